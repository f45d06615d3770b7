import PingRollCore

/// `/usage_data/new`: a page where an admin of an air-gapped instance uploads a downloaded
/// Service Ping payload file by hand.
enum UploadPage {
    static func form() -> HTTPResponse {
        .html(200, page(title: "Upload a Service Ping payload", body: """
            <p>Instances that cannot reach this collector can still report: in GitLab, go to
            <em>Admin Area &gt; Metrics and profiling &gt; Usage statistics</em>, download the payload,
            and upload the file here.</p>
            <form method="post" action="/usage_data/new" enctype="multipart/form-data">
              <p><label for="payload">Payload file (JSON)</label>
                 <input type="file" id="payload" name="payload" accept=".json,application/json" required></p>
              <p><button type="submit">Upload</button></p>
            </form>
            """))
    }

    static func result(_ result: Result<Int64, HTTPError>) -> HTTPResponse {
        switch result {
        case .success(let id):
            return .html(201, page(title: "Payload stored", body: """
                <p class="ok">The payload was stored. usage_data_id: <strong id="usage-data-id">\(id)</strong></p>
                <p><a href="/usage_data/new">Upload another payload</a></p>
                """))
        case .failure(let error):
            return .html(error.status, page(title: "Payload not stored", body: """
                <p class="error">The payload was not stored (\(error.status), <code>\(escape(error.code))</code>):
                <span id="error-message">\(escape(error.message))</span></p>
                <p><a href="/usage_data/new">Try another file</a></p>
                """))
        }
    }

    static func page(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · pingroll</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
        .ok{color:#1a7f37}.error{color:#b42318}</style></head>
        <body><h1>\(escape(title))</h1>
        \(body)
        </body></html>
        """
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}

extension PingRollResponder {
    /// `POST /usage_data/new`: the upload form's multipart body (or a JSON body), then the same
    /// ingest path as `POST /usage_data`; answers with a page showing the id or the error.
    func handleUpload(_ request: HTTPRequest, _ done: @escaping @Sendable (HTTPResponse) -> Void) {
        let contentType = request.head.headers["Content-Type"] ?? ""
        let payload: [UInt8]
        var encoding: String? = nil
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = MultipartForm.boundary(fromContentType: contentType) else {
                let error = HTTPError(400, "invalid_multipart", MultipartForm.ParseError.missingBoundary.description)
                return reject(request.head, body: request.body, error) { done(UploadPage.result(.failure($0))) }
            }
            do {
                let form = try MultipartForm(body: request.body, boundary: boundary)
                guard let part = form.parts.first(where: { $0.name == "payload" }) ?? form.parts.first(where: { $0.filename != nil }),
                      !part.body.isEmpty else {
                    let error = HTTPError(422, "missing_file", "choose a payload file to upload")
                    return reject(request.head, body: request.body, error) { done(UploadPage.result(.failure($0))) }
                }
                payload = part.body
            } catch {
                let error = HTTPError(400, "invalid_multipart", error.description)
                return reject(request.head, body: request.body, error) { done(UploadPage.result(.failure($0))) }
            }
        } else if BodyDecoding.checkJSONContentType(contentType) == nil {
            payload = request.body
            encoding = request.head.headers["Content-Encoding"]
        } else {
            let error = HTTPError(415, "unsupported_media_type", "upload the payload file with the form (multipart/form-data) or post it as application/json")
            return reject(request.head, body: request.body, error) { done(UploadPage.result(.failure($0))) }
        }
        ingest(payload, encoding: encoding, head: request.head) { done(UploadPage.result($0)) }
    }
}
