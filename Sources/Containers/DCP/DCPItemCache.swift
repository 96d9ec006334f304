import Foundation

/// The data files and items of a `DCPCheckpoint` opened so far, each kept in a small
/// least-recently-used set (64 files, 32 items), so repeated reads of neighbouring boxes parse
/// an item's zip directory and pickle once and the number of open descriptors stays bounded
/// whatever the number of files.
///
/// `@unchecked Sendable`: both tables are read and written only under `lock`; the values
/// (`RandomAccessFile`, `DCPOpenItem`) are immutable and safe to share between threads.
final class DCPItemCache: @unchecked Sendable {
    private let lock = NSLock()
    private var files: [String: (file: RandomAccessFile, used: Int)] = [:]
    private var items: [DCPStorageInfo: (item: DCPOpenItem, used: Int)] = [:]
    private var clock = 0
    let maxFiles: Int
    let maxItems: Int

    init(maxFiles: Int = 64, maxItems: Int = 32) {
        self.maxFiles = maxFiles
        self.maxItems = maxItems
    }

    /// The data file `name`, opened by `open` when not cached.
    func file(_ name: String, open: () throws(ContainerError) -> RandomAccessFile) throws(ContainerError) -> RandomAccessFile {
        lock.lock()
        clock += 1
        if let f = files[name] {
            files[name] = (f.file, clock)
            lock.unlock()
            return f.file
        }
        lock.unlock()
        let f = try open()
        lock.lock()
        defer { lock.unlock() }
        clock += 1
        if files.count >= maxFiles, let oldest = files.min(by: { $0.value.used < $1.value.used })?.key { files[oldest] = nil }
        files[name] = (f, clock)
        return f
    }

    /// The item stored at `storage`, opened by `open` when not cached.
    func item(_ storage: DCPStorageInfo, open: () throws(ContainerError) -> DCPOpenItem) throws(ContainerError) -> DCPOpenItem {
        lock.lock()
        clock += 1
        if let i = items[storage] {
            items[storage] = (i.item, clock)
            lock.unlock()
            return i.item
        }
        lock.unlock()
        let i = try open()
        lock.lock()
        defer { lock.unlock() }
        clock += 1
        if items.count >= maxItems, let oldest = items.min(by: { $0.value.used < $1.value.used })?.key { items[oldest] = nil }
        items[storage] = (i, clock)
        return i
    }

    /// Drops every cached item and file (their descriptors close once no reader holds them).
    func removeAll() {
        lock.lock()
        files = [:]
        items = [:]
        lock.unlock()
    }
}
