/// What the report should say about what could not be seen, each once:
/// kept for the capture, and the new ones for stderr as they come. Shared
/// by the consumers of one sampling thread.
final class NoteBook {
    private(set) var all: [String] = []
    private var unsaid: [String] = []

    func note(_ text: String) {
        guard !all.contains(text) else { return }
        all.append(text)
        unsaid.append(text)
    }

    /// Notes made since the last call.
    func takeNew() -> [String] {
        defer { unsaid = [] }
        return unsaid
    }
}
