/// The module files the unwinder opened, carried with the capture: the
/// symbolizer then finds each one open (`SharedElfFile.open`) rather than
/// opening and mapping it a second time.
public struct OpenModuleFiles: CapturePart {
    var files: [String: SharedElfFile] = [:]

    public mutating func absorb(_ later: OpenModuleFiles) {
        files.merge(later.files) { _, later in later }
    }
}

extension Capture {
    var openModuleFiles: OpenModuleFiles {
        get { self[OpenModuleFiles.self] ?? OpenModuleFiles() }
        set { self[OpenModuleFiles.self] = newValue }
    }
}
