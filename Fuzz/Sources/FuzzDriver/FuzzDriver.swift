import Foundation

/// libFuzzer's documented entry for programs that own `main` (`LLVMFuzzerRunDriver`, in
/// libclang_rt.fuzzer). SwiftPM links every executable with `--defsym main=<Target>_main`, so
/// the swift-protobuf trick (`-parse-as-library` plus libFuzzer's own `main`) fails to link
/// on Linux with Swift 6.3; instead each target's top-level code hands its callback here.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The per-input callback: the bytes libFuzzer generated. Return 0 (libFuzzer reserves -1 for
/// "do not add to the corpus").
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs libFuzzer with the process's command line (corpus directories, `-max_total_time=`,
/// ...) and exits with its status.
public func runFuzzer(_ callback: FuzzCallback) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}

/// The input as `Data` (an empty buffer may arrive with a null pointer).
public func fuzzData(_ start: UnsafePointer<UInt8>?, _ count: Int) -> Data {
    guard let start, count > 0 else { return Data() }
    return Data(bytes: start, count: count)
}
