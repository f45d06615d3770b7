import PingRollConfig
import PingRollCore
import PingRollService

// libFuzzer targets for the hostile-input parsers. Build and run them with scripts/fuzz.sh,
// which passes -sanitize=fuzzer,address and -DFUZZING (libFuzzer then provides `main`) and picks
// a target with PINGROLL_FUZZ_TARGET:
//   payload   the JSON scanner, payload extractor, the skeleton/values split, timestamps and
//             versions (corpus fuzz/corpus)
//   multipart multipart bodies with a boundary taken from the input (fuzz/corpus-multipart)
//   cohort    the cohort filter parser and matcher (fuzz/corpus-cohort)
//   query     series/breakdown query parameters, dates, sizes (fuzz/corpus-query)
//   config    the YAML loader and both configuration readers, serve's and the pull schedule's
//             (fuzz/corpus-config)

let extractor = PayloadExtractor(catalog: try! MetricCatalog(metrics: [
    MetricDefinition(keyPath: "container_registry_server.db_enabled", valueType: .boolean, when: [
        MetricCondition(keyPath: "container_registry_enabled", equals: .bool(true)),
    ]),
    MetricDefinition(keyPath: "counts.projects", valueType: .number),
    MetricDefinition(keyPath: "database.version", valueType: .string),
]))

let catalog = try! MetricCatalog(metrics: [
    MetricDefinition(keyPath: "active_user_count", valueType: .number),
    MetricDefinition(keyPath: "container_registry_enabled", valueType: .boolean),
])

enum FuzzTarget: String, CaseIterable {
    case payload, multipart, cohort, query, config
}

let target: FuzzTarget = {
    guard let name = getenv("PINGROLL_FUZZ_TARGET").map({ String(cString: $0) }) else { return .payload }
    guard let t = FuzzTarget(rawValue: name) else { fatalError("PINGROLL_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue))") }
    return t
}()

/// Query text `a=1&b=2` (percent-decoded like libmicrohttpd does) as arguments.
func arguments(_ bytes: [UInt8]) -> [(String, String)] {
    String(decoding: bytes, as: UTF8.self).split(separator: "&").map { pair in
        let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        return (String(kv[0]).removingPercentEncodingLoosely(), kv.count > 1 ? String(kv[1]).removingPercentEncodingLoosely() : "")
    }
}

func fuzzOne(_ bytes: [UInt8]) {
    switch target {
    case .payload:
        let accepted = (try? extractor.extract(bytes, receivedAt: Timestamp(milliseconds: 1_800_000_000_000))) != nil
        _ = try? JSONScanner(paths: KeyPathSet(["a", "a.b", "c"]), maxDepth: 64).scan(bytes)
        // Storage splits accepted pings into skeleton and values: always, and byte for byte.
        let shape = JSONShape.split(bytes)
        precondition(!accepted || shape != nil, "an accepted ping did not split")
        if let shape {
            precondition((try? JSONShape.join(skeleton: shape.skeleton, values: shape.values, expectedSize: bytes.count)) == bytes, "split/join changed the bytes")
        }
        let text = String(decoding: bytes.prefix(64), as: UTF8.self)
        _ = Timestamp.parseISO8601(text)
        _ = GitLabVersion(text)
        _ = try? MultipartForm(body: bytes, boundary: "b")
        // The tree reader: what it reads, written out and read again, is the same tree.
        if let tree = try? JSONTree.parse(bytes, maxDepth: 64) {
            precondition((try? JSONTree.parse(tree.serialized(pretty: bytes.count % 2 == 0), maxDepth: 64)) == tree, "a JSON tree does not round-trip")
        }
    case .multipart:
        // First byte: boundary length (0...255, so invalid lengths are tried too).
        guard let n = bytes.first.map(Int.init), bytes.count > n else { return }
        let boundary = String(decoding: bytes[1..<(1 + n)], as: UTF8.self)
        let body = Array(bytes[(1 + n)...])
        if let form = try? MultipartForm(body: body, boundary: boundary) {
            precondition(form.parts.allSatisfy { $0.body.count <= body.count })
        }
        _ = MultipartForm.boundary(fromContentType: String(decoding: bytes.prefix(200), as: UTF8.self))
    case .cohort:
        guard let filter = try? CohortFilter.parse(arguments(bytes)) else { return }
        // What a filter says must survive being saved and parsed again, and matching never traps.
        precondition((try? CohortFilter.parse(filter.queryText)) == filter, "a cohort filter does not round-trip")
        var x = Enrollment(program: "p", organization: "o", contactName: "c", contactEmail: "c@o.example")
        x.registrySizeBytes = bytes.count.isMultiple(of: 2) ? Int64.max : Int64.min
        for (last, now) in [(Int64.min, Int64.max), (Int64.max, Int64.min), (0, 1_800_000_000_000)] {
            _ = filter.matches(x, dbEnabled: nil, lastPingAt: Timestamp(milliseconds: last), now: Timestamp(milliseconds: now))
        }
    case .query:
        let args = arguments(bytes)
        if let query = try? SeriesQuery.parse(args, catalog: catalog) {
            precondition(query.periodStarts.count <= SeriesQuery.maxPeriods)
            _ = try? APIJSON.encode(SeriesBody(query, Series.compute(query, cells: [:])))
        }
        for (_, value) in args {
            _ = days(isoDate: value)
            _ = BetaValidation.parseSize(value)
            _ = BetaValidation.isEmail(value)
        }
    case .config:
        // Whatever the text, a value or a Failure: never a trap.
        guard let document = try? YAMLDocument.parse(bytes) else { return }
        _ = try? ConfigFile(document: document, path: "fuzz.yaml")
        _ = try? PullConfig(document: document, path: "fuzz.yaml")
    }
}

extension String {
    /// `%XX` decoded where well-formed; other bytes kept.
    func removingPercentEncodingLoosely() -> String {
        var out: [UInt8] = []
        var bytes = Array(utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%"), bytes.count >= 2, let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else if b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links an executable's entry point under this name; hand control to libFuzzer's driver.
@_cdecl("pingroll_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv, fuzzerTestOneInput)
}
#else
@main
struct FuzzCorpusRunner {
    /// Without libFuzzer: runs every file given (the committed corpus) through the target once.
    static func main() {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let file = fopen(path, "rb") else { continue }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&buffer, 1, buffer.count, file)
                if n <= 0 { break }
                bytes += buffer[0..<n]
            }
            fclose(file)
            fuzzOne(bytes)
            count += 1
        }
        print("ran \(count) inputs")
    }
}
#endif

#if canImport(Glibc)
import Glibc
#endif
