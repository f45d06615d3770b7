/// The headers every answer carries, added where answers are queued (so no route can forget
/// them): `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` always, and for
/// HTML a Content-Security-Policy that allows only pingroll's own scripts and styles, no
/// inline script or style, no plugins, no `<base>`, and no framing. The UI keeps an API token
/// in `sessionStorage`; the policy is the second line of defence should a script ever be
/// injected.
enum SecurityHeaders {
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
        + "frame-ancestors 'none'; form-action 'self'"

    static let always = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
    static let forHTML = always + [("Content-Security-Policy", contentSecurityPolicy), ("X-Frame-Options", "DENY")]

    /// The headers to add to an answer whose headers are `headers` (built once, not per answer).
    static func extra(for headers: [(String, String)]) -> [(String, String)] {
        let type = headers.first { $0.0.lowercased() == "content-type" }?.1 ?? ""
        return type.lowercased().hasPrefix("text/html") ? forHTML : always
    }
}
