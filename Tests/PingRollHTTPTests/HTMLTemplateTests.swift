import Testing
@testable import PingRollHTTP

/// The pages kept as HTML files render every section, escape every value, and never expand a
/// placeholder that arrived inside a value.
@Suite struct HTMLTemplateTests {
    @Test(arguments: ["form", "stored", "failed"])
    func everySectionOfTheUploadPageRendersWithItsTitle(section: String) throws {
        let page = try UploadPage.template.render(section, ["id": "1", "status": "422", "code": "c", "message": "m"])
        #expect(page.hasPrefix("<!doctype html>") && page.contains("</html>"))
        #expect(!page.contains("{{") && !page.contains("<!-- section"))
        #expect(page.contains("<h1>") && !page.contains("<h1></h1>"))
    }

    @Test func valuesAreEscapedAndPlaceholdersInsideThemStayText() throws {
        let page = try UploadPage.template.render("failed", ["status": "400", "code": "x", "message": #"<script>"{{title}}"&'</script>"#])
        #expect(page.contains("&lt;script&gt;&quot;{{title}}&quot;&amp;&#39;&lt;/script&gt;"))
        #expect(!page.contains("<script>"))
    }

    @Test func unclosedAndUnknownPlaceholdersAreLeftAsTheyAre() {
        #expect(HTMLTemplate.fill("a {{b}} {{ {{{{ }}", [:]) == "a {{b}} {{ {{{{ }}")
        #expect(HTMLTemplate.fill("{{{{x}}", ["x": "1"]) == "{{1")
        let long = String(repeating: "{{", count: 50_000)
        #expect(HTMLTemplate.fill(long, ["x": "1"]) == long)
    }

    @Test func aMissingSectionIsAnErrorNotACrash() {
        #expect(throws: HTMLTemplate.Problem.self) { try HTMLTemplate("<p>{{content}}</p>").render("form") }
    }
}
