import ArgumentParser
import FoundationEssentials
import PerfProbeCore

@main
struct PerfProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perfprobe",
        abstract: "Profile where a Linux process spends its CPU and whether its memory grows, without restarting it or frame pointers.",
        discussion: "Exit status: 0 success, 1 the target failed or a gate tripped, 2 a usage or setup error.",
        subcommands: [RunCommand.self, AttachCommand.self, TopCommand.self, SidecarCommand.self, ReportCommand.self, DiffCommand.self]
    )

    /// ArgumentParser exits 64 on usage errors; perfprobe's contract is 2,
    /// with one line on stderr, for every usage or setup error.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            StandardStreams.exit(code.rawValue)
        } catch let error as ReportNotWritten {
            fail(error.message, code: 2)
        } catch let error as SessionError {
            fail(error.description, code: 2)
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                StandardStreams.exit(0)
            }
            fail(negativeValue() ?? message(for: error), code: 2)
        }
    }

    /// ArgumentParser reads `--frequency -5` as an option with no value and
    /// says "Missing value": name the real problem instead.
    private static func negativeValue() -> String? {
        // Only perfprobe's own options: what follows "--" is the command's.
        let arguments = Array(CommandLine.arguments.prefix { $0 != "--" })
        for (index, argument) in arguments.enumerated().dropLast() where argument.hasPrefix("--") {
            let value = arguments[index + 1]
            if value.hasPrefix("-"), Double(value) != nil {
                return "\(argument) must be a positive number, got \(value)"
            }
        }
        return nil
    }

    static func fail(_ message: String, code: Int32) -> Never {
        StandardStreams.error("perfprobe: \(message)\n")
        StandardStreams.exit(code)
    }
}
