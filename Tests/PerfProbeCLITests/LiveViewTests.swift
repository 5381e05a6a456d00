import Foundation
import PerfProbeCore
import Testing

/// A real terminal for the tests: a detached tmux server of its own, one
/// window of a known size running a plain shell.
final class TerminalSession {
    private let socket = "perfprobe-test-\(UUID().uuidString.prefix(8))"

    init(columns: Int = 150, rows: Int = 40) throws {
        // Through Python's subprocess, which closes inherited descriptors: the
        // server tmux starts would otherwise keep the one Foundation's Process
        // watches for the client's exit, and the wait would never end. The
        // signal mask Process hands on (SIGTERM blocked) is cleared too:
        // kill-server is a SIGTERM the server sends itself.
        let start = "import signal, subprocess, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); sys.exit(subprocess.call(sys.argv[1:]))"
        try Harness.tool("/usr/bin/python3", ["-c", start,
                                              "/usr/bin/tmux", "-L", socket, "new-session", "-d", "-x", String(columns), "-y", String(rows), "env", "-i", "PATH=/usr/bin:/bin",
                  "TERM=xterm-256color", "HOME=/tmp", "PS1=PROMPT$ ", "bash", "--norc", "--noprofile"])
    }

    deinit {
        _ = try? tmux(["kill-server"])
    }

    @discardableResult
    func tmux(_ arguments: [String]) throws -> String {
        try Harness.output(of: "/usr/bin/tmux", ["-L", socket] + arguments)
    }

    /// Types `line` and Enter.
    func run(_ line: String) throws {
        try tmux(["send-keys", "-l", line])
        try tmux(["send-keys", "Enter"])
    }

    /// Sends keys by tmux's names ("q", "Right", "Enter").
    func press(_ keys: String...) throws {
        try tmux(["send-keys"] + keys)
    }

    var screen: String {
        (try? tmux(["capture-pane", "-p"])) ?? ""
    }

    /// Whether the alternate screen (curses' full screen) is up.
    var alternateScreen: Bool {
        (try? tmux(["display-message", "-p", "#{alternate_on}"]))?.hasPrefix("1") ?? false
    }

    /// The screen once `condition` holds, polled every 20 ms for up to `seconds`; nil if it never does.
    func wait(seconds: Double = 10, until condition: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            let shown = screen
            if condition(shown) { return shown }
            usleep(20_000) // a polling interval, not a wait for the event
        } while Date() < deadline
        return nil
    }
}

extension BinaryTests {
@Suite struct LiveViewTests {
    struct Row {
        var selfPercent: Double
        var totalPercent: Double
        var module: String
        var function: String
    }

    /// The function rows of a screen or snapshot (after its column titles), top first.
    static func rows(_ text: some StringProtocol) -> [Row] {
        let row = /^\s*([\d.]+)\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+(\S+)\s+(\S+)\s*$/
        return text.split(separator: "\n").compactMap { line in
            guard let match = String(line).wholeMatch(of: row), let selfPercent = Double(match.1), let total = Double(match.2) else { return nil }
            return Row(selfPercent: selfPercent, totalPercent: total, module: String(match.3), function: String(match.4))
        }
    }

    static func total(_ rows: [Row], _ function: String) -> Double? {
        rows.first { $0.function == function }?.totalPercent
    }

    /// `perfprobe top PID` on the 70/30 sample in a real terminal: the
    /// split within 5 s, each key doing what it says, `w` writing the
    /// reports, `q` leaving at once with the terminal as it was.
    @Test func fullScreenShowsTheSplitAndAnswersKeys() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        let directory = Harness.scratch()
        let terminal = try TerminalSession()
        try terminal.run("\(Harness.binary) top --frequency 999 --output \(directory) \(target.processIdentifier); echo EXIT=$?")
        let first = try #require(terminal.wait(seconds: 5) { Self.total(Self.rows($0), "heavy_path") != nil }, "\(terminal.screen)")
        #expect(terminal.alternateScreen)
        let heavy = try #require(Self.total(Self.rows(first), "heavy_path"))
        #expect(abs(heavy - 70) <= 5, "\(first)")

        try terminal.press("t")
        let byTotal = try #require(terminal.wait { $0.contains("by total") }, "\(terminal.screen)")
        let totals = Self.rows(byTotal).map(\.totalPercent)
        #expect(totals.count >= 5 && totals == totals.sorted(by: >), "\(byTotal)")
        try terminal.press("s")
        let bySelf = try #require(terminal.wait { $0.contains("by self") }, "\(terminal.screen)")
        let selfShares = Self.rows(bySelf).map(\.selfPercent)
        #expect(selfShares == selfShares.sorted(by: >) && Self.rows(bySelf).first?.function == "shared_leaf", "\(bySelf)")

        // Since the start, the timer's interrupts have put kernel frames in; `k` takes them out.
        try terminal.press("c")
        let cumulative = try #require(terminal.wait { $0.contains("since start") && Self.rows($0).contains { $0.module == "[kernel]" } },
                                      "\(terminal.screen)")
        #expect(Self.total(Self.rows(cumulative), "heavy_path").map { abs($0 - 70) <= 5 } == true, "\(cumulative)")
        try terminal.press("k")
        let userOnly = try #require(terminal.wait { $0.contains("kernel hidden") }, "\(terminal.screen)")
        #expect(!Self.rows(userOnly).isEmpty && !Self.rows(userOnly).contains { $0.module == "[kernel]" }, "\(userOnly)")

        try terminal.press("/")
        try terminal.tmux(["send-keys", "-l", "_path$"])
        try terminal.press("Enter")
        let filtered = try #require(terminal.wait { $0.contains("filter /_path$/") }, "\(terminal.screen)")
        #expect(Set(Self.rows(filtered).map(\.function)) == ["heavy_path", "light_path"], "\(filtered)")

        try terminal.press("w")
        _ = try #require(terminal.wait { $0.contains("report written to \(directory)") }, "\(terminal.screen)")
        let report = try JSONReportFormat.decode(Data(contentsOf: URL(fileURLWithPath: directory + "/report.json")))
        let share = Double(Harness.inclusive(report, "heavy_path")) / Double(max(report.samples.total, 1)) * 100
        // Everything sampled so far: at least what the cumulative view counted earlier.
        let counted = try #require(cumulative.firstMatch(of: /(\d+) samples, since start/).flatMap { Int($0.1) })
        #expect(abs(share - 70) <= 5 && report.samples.total >= counted, "\(share)% of \(report.samples.total), \(counted) shown")

        let quitAt = Date()
        try terminal.press("q")
        let after = try #require(terminal.wait(seconds: 3) { $0.contains(/EXIT=\d/) }, "\(terminal.screen)")
        #expect(Date().timeIntervalSince(quitAt) < 1.5)
        #expect(after.contains("EXIT=0"), "\(after)")
        #expect(!terminal.alternateScreen)
        // The shell's prompt is back and reads input as before.
        try terminal.run("stty -a | tr ' ' '\\n' | grep -x -e echo -e icanon | tr '\\n' ' '; echo")
        #expect(terminal.wait { $0.contains(/^(echo icanon|icanon echo)\s*$/.anchorsMatchLineEndings()) } != nil, "\(terminal.screen)")
    }

    /// A stop signal and the target's exit restore the terminal too; a
    /// command started for top has its output kept off the screen, and its
    /// whole run is printed once it ends.
    @Test func signalAndTargetExitRestoreTheTerminal() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        let terminal = try TerminalSession()
        let pidFile = Harness.scratch()
        try terminal.run("sh -c 'echo $$ > \(pidFile); exec \(Harness.binary) top --output \(Harness.scratch()) \(target.processIdentifier)'; echo EXIT=$?")
        _ = try #require(terminal.wait { Self.total(Self.rows($0), "heavy_path") != nil }, "\(terminal.screen)")
        let agent = try #require(Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(agent, SIGTERM)
        #expect(terminal.wait { $0.contains("EXIT=0") } != nil, "\(terminal.screen)")
        #expect(!terminal.alternateScreen)

        let log = Harness.scratch()
        try terminal.run("clear; \(Harness.binary) top --frequency 999 --command-output \(log) --output \(Harness.scratch()) -- sh -c 'echo from-the-command; exec \(Harness.samples)/cpu_split 2'; echo EXIT=$?")
        let ended = try #require(terminal.wait(seconds: 15) { $0.contains(/EXIT=\d/) }, "\(terminal.screen)")
        #expect(ended.contains("EXIT=0") && !terminal.alternateScreen, "\(ended)")
        #expect(ended.contains("exited with status 0; the whole run") && !ended.contains("from-the-command"), "\(ended)")
        #expect(Self.total(Self.rows(ended), "heavy_path").map { abs($0 - 70) <= 5 } == true, "\(ended)")
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "from-the-command\n")
    }

    /// Usage errors say so on one line and exit 2 before anything starts.
    @Test func usageErrorsExitTwo() throws {
        for (arguments, message) in [(["top"], "exactly one of PID, --match NAME"),
                                     (["top", "1", "--", "/bin/true"], "exactly one of PID, --match NAME or -- COMMAND"),
                                     (["top", "--interval", "0", "1"], "--interval must be 0.1 to 3600 seconds"),
                                     (["top", "--rows", "0", "1"], "--rows must be 1 to 10000"),
                                     (["top", "--command-output", "/tmp/x", "1"], "--command-output is for a command"),
                                     (["top", "--frequency", "-5", "1"], "--frequency must be a positive number")] {
            let outcome = try Harness.perfprobe(arguments)
            #expect(outcome.status == 2 && outcome.stderr.contains(message) && outcome.stderr.split(separator: "\n").count == 1,
                    "\(arguments): \(outcome.stderr)")
            #expect(outcome.stdout.isEmpty && outcome.wroteNothing)
        }
    }

    /// Not a terminal: plain snapshots, one per interval, no escape byte.
    @Test func pipedPrintsPlainSnapshots() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        let outcome = try Harness.perfprobe(["top", "--duration", "3.5", "--frequency", "999", String(target.processIdentifier)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let snapshots = outcome.stdout.components(separatedBy: "— perfprobe top").dropFirst()
        #expect(snapshots.count >= 2 && snapshots.count <= 4, "\(outcome.stdout)")
        #expect(!outcome.stdoutBytes.contains(0x1b))
        for snapshot in snapshots {
            #expect(Self.total(Self.rows(snapshot), "heavy_path").map { abs($0 - 70) <= 5 } == true, "\(snapshot)")
            #expect(Self.rows(snapshot).first?.function == "shared_leaf", "\(snapshot)")
        }
        #expect(outcome.wroteNothing)
    }

    /// --heap adds the live allocation stacks: leaker's leak at its 1 MiB/s.
    @Test func heapTableShowsTheLeakAtItsRate() throws {
        let target = try Harness.launch("leaker", ["0"])
        defer { Harness.stop(target) }
        let outcome = try Harness.perfprobe(["top", "--heap", "--duration", "5.5", "--rows", "5", String(target.processIdentifier)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let last = try #require(outcome.stdout.components(separatedBy: "— perfprobe top").last)
        let row = try #require(last.split(separator: "\n").first { $0.contains("leaky_cache_insert") }, "\(last)")
        let growth = try #require(row.firstMatch(of: /([\d.]+) (B|KiB|MiB)\/s/), "\(row)")
        let scale: Double = growth.2 == "MiB" ? 1_048_576 : growth.2 == "KiB" ? 1024 : 1
        let rate = try #require(Double(growth.1)) * scale
        #expect(abs(rate - 1_048_576) <= 0.25 * 1_048_576, "\(row)")
        #expect(row.firstIndex(of: "<").map { row[..<$0].contains("leaky_cache_insert") || row[..<$0].contains("malloc") } == true,
                "leaf first: \(row)")
    }

    /// `run` and `attach` keep a status line on a terminal's stderr and
    /// clear it before the summary; on a file (`run` here), nothing of it.
    @Test func statusLineOnlyOnATerminal() throws {
        let terminal = try TerminalSession()
        try terminal.run("\(Harness.binary) run --duration 3 --output \(Harness.scratch()) -- \(Harness.samples)/cpu_split 5; echo EXIT=$?")
        let live = try #require(terminal.wait { $0.contains(/perfprobe: [\d.]+ s · \d+ samples · 0 lost · target CPU \d+% · RSS [\d.]+ MiB · [\d.]+ s left/) },
                                "\(terminal.screen)")
        #expect(!live.contains(/EXIT=\d/))
        let ended = try #require(terminal.wait(seconds: 15) { $0.contains(/EXIT=\d/) }, "\(terminal.screen)")
        #expect(ended.contains("EXIT=0") && ended.contains("heavy_path") && !ended.contains(" left"), "\(ended)")

        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        try terminal.run("clear; \(Harness.binary) attach --duration 2.5 --output \(Harness.scratch()) \(target.processIdentifier); echo EXIT=$?")
        _ = try #require(terminal.wait { $0.contains(/\d+ samples · 0 lost · target CPU \d+% · RSS [\d.]+ MiB · [\d.]+ s left/) },
                         "\(terminal.screen)")
        let attached = try #require(terminal.wait(seconds: 15) { $0.contains(/EXIT=\d/) }, "\(terminal.screen)")
        #expect(attached.contains("EXIT=0") && attached.contains("heavy_path") && !attached.contains(" left"), "\(attached)")

        let piped = try Harness.perfprobe(["run", "--duration", "1.5", "--", Harness.samples + "/cpu_split", "3"])
        #expect(piped.status == 0 && !piped.stderr.contains(/\d+ samples · \d+ lost · target CPU/) && !piped.stderr.contains("\u{1b}"),
                "\(piped.stderr)")
    }
}
}
