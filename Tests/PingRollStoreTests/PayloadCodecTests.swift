import Testing
import PingRollCore
@testable import PingRollStore

@Suite struct PayloadCodecTests {
    @Test func roundTripsAndShrinksRepetitiveJSON() throws {
        let raw = Array(String(repeating: #"{"counts":{"projects":0,"issues":0}},"#, count: 2000).utf8)
        let packed = PayloadCodec.compress(raw)
        #expect(packed.encoding == "zstd" && packed.originalSize == raw.count && packed.bytes.count < raw.count / 10)
        #expect(try PayloadCodec.decompress(packed) == raw)
    }

    @Test func damagedPayloadsAreReportedAsCorrupt() {
        var packed = PayloadCodec.compress(Array("hello hello hello".utf8))
        packed.bytes = Array(packed.bytes.prefix(4))
        #expect(throws: StorageError.self) { try PayloadCodec.decompress(packed) }
        packed.encoding = "lz4"
        #expect(throws: StorageError.self) { try PayloadCodec.decompress(packed) }
    }
}
