import ArgumentParser

/// Every subcommand of `ckpt`, in help order.
enum CommandRegistry {
    static let all: [any ParsableCommand.Type] = [
        SynthCommand.self, InfoCommand.self, LsCommand.self, VerifyCommand.self, GetCommand.self,
        ConvertCommand.self, StepCommand.self, VerifyStepCommand.self, BenchCommand.self, GcCommand.self,
    ]
}
