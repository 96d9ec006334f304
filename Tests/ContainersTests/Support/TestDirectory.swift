import Foundation
import Glibc

/// A fresh temporary directory per test (tests run in parallel): either made and removed by
/// hand (`make`, `remove`) or owned by an instance that removes it on release.
final class TestDirectory {
    /// The directory of an instance.
    let path: String

    /// Creates a directory removed when the instance is released.
    init(_ tag: String = #function) {
        let safe = tag.filter { $0.isLetter || $0.isNumber }.prefix(40)
        path = NSTemporaryDirectory() + "ckpt-containers-\(safe)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `path/name`.
    func file(_ name: String) -> String { path + "/" + name }

    /// Writes `bytes` to `name` and returns the path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = file(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    /// Makes a directory the caller removes.
    static func make() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/ckpt-containers-XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw POSIXError(.EIO) }
        return String(cString: p)
    }

    static func remove(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// The directory's entries, sorted.
    static func list(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}
