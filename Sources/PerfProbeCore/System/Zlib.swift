import CPerfProbe
import Glibc

/// zlib, through the C shim: the one file that calls it.
enum Zlib {
    /// `data` gzip-compressed at the best level (pprof files are gzipped protobuf).
    static func gzip(_ data: [UInt8]) -> [UInt8]? {
        var out: UnsafeMutableRawPointer?
        let size = data.withUnsafeBytes { CPerfProbe_gzip($0.baseAddress, $0.count, &out) }
        guard size >= 0, let out else { return nil }
        defer { free(out) }
        return Array(UnsafeRawBufferPointer(start: out, count: size))
    }

    /// Inflates the zlib stream of `count` bytes at `source` into
    /// `destination`; true when it fills it exactly.
    static func decompress(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        CPerfProbe_zlib_decompress(source, count, destination.baseAddress, destination.count) == destination.count
    }
}
