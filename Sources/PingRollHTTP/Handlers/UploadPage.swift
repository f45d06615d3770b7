import PingRollCore

/// `/usage_data/new`: a page where an admin of an air-gapped instance uploads a downloaded
/// Service Ping payload file by hand. The page is `UI/upload.html`, built into the binary by
/// `scripts/embed-defaults.py` (`EmbeddedPages.uploadHTML`).
enum UploadPage {
    static let template = HTMLTemplate(EmbeddedPages.uploadHTML)

    static func form() -> HTTPResponse { page(200, "form") }

    static func result(_ result: Result<Int64, HTTPError>) -> HTTPResponse {
        switch result {
        case .success(let id): page(201, "stored", ["id": "\(id)"])
        case .failure(let error): page(error.status, "failed", ["status": "\(error.status)", "code": error.code, "message": error.message])
        }
    }

    static func page(_ status: Int, _ section: String, _ values: [String: String] = [:]) -> HTTPResponse {
        do throws(HTMLTemplate.Problem) {
            return .html(status, try template.render(section, values))
        } catch {
            // The shipped page lacks a section: a build defect the page test catches.
            return .html(500, "<!doctype html><title>pingroll</title><p>\(HTMLTemplate.escape(error.description))</p>")
        }
    }
}

