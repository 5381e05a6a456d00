import CPerfProbe

/// zstd (libzstd): debug sections compressed with it, which libdw 0.188
/// cannot read.
enum Zstd {
    /// Decompresses the frame of `count` bytes at `source` into
    /// `destination`; true when it fills it exactly (the size the section's
    /// compression header promised), false for anything else.
    static func decompress(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        CPerfProbe_zstd_decompress(source, count, destination.baseAddress, destination.count) == destination.count
    }
}
