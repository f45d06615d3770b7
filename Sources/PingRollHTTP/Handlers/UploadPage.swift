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
