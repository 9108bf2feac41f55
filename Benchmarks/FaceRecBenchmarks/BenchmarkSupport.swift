import Foundation

/// Minimal `--name value` / `--flag` parsing for the benchmark suites.
struct BenchmarkOptions {
    private var arguments: [String]
    init(_ arguments: [String]) { self.arguments = arguments }

    mutating func value(_ name: String) -> String? {
        guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
        return arguments[i + 1]
    }

    mutating func flag(_ name: String) -> Bool { arguments.contains(name) }
}

/// Prints one result: a JSON object (for Benchmarks/compare.py) or a human-readable line.
func report(json: Bool, _ fields: [String: Any], text: String) {
    if json {
        let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    } else {
        print(text)
    }
}

/// Peak resident set size of this process (VmHWM), in MB.
func peakResidentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}
