import PingRollCore

// A libFuzzer target for the hostile-input parsers: the JSON scanner and payload extractor,
// timestamps and multipart bodies. Build and run it with scripts/fuzz.sh, which passes
// -sanitize=fuzzer,address and -DFUZZING (libFuzzer then provides `main`).

let extractor = PayloadExtractor(catalog: try! MetricCatalog(metrics: [
    MetricDefinition(keyPath: "container_registry_server.db_enabled", valueType: .boolean, when: [
        MetricCondition(keyPath: "container_registry_enabled", equals: .bool(true)),
    ]),
    MetricDefinition(keyPath: "counts.projects", valueType: .number),
    MetricDefinition(keyPath: "database.version", valueType: .string),
]))

func fuzzOne(_ bytes: [UInt8]) {
    _ = try? extractor.extract(bytes, receivedAt: Timestamp(milliseconds: 1_800_000_000_000))
    _ = try? JSONScanner(paths: KeyPathSet(["a", "a.b", "c"]), maxDepth: 64).scan(bytes)
    let text = String(decoding: bytes.prefix(64), as: UTF8.self)
    _ = Timestamp.parseISO8601(text)
    _ = GitLabVersion(text)
    _ = try? MultipartForm(body: bytes, boundary: "b")
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
