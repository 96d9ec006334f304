import CheckpointStore
import Containers

/// A source's stored tensor names resolved against its layout table: alias spellings
/// (`LayoutRuleSet.aliases`) read as the layout's names, ignored tensors (`ignored`) set aside.
/// Layouts without a table, or whose table has neither, keep the stored names as they are.
struct SourceNames {
    var inventories: [ShardFile: [ContainerTensor]] = [:]
    var ignored: [ShardFile: [TensorKey]] = [:]
    var storedKeys: [ShardFile: [TensorKey: TensorKey]] = [:]

    init(opened: OpenedSource, catalog: LayoutCatalog) throws(ShardingError) {
        let interpreter = LayoutInterpreter(catalog: catalog)
        // A missing table or an unusable model surfaces when planning; names stay as stored.
        let rules = (try? interpreter.rules(opened.config, opened.layout)) ?? nil
        let aliases = rules?.aliases ?? []
        let patterns = (rules?.ignored ?? []).map(NamePattern.init)
        guard !aliases.isEmpty || !patterns.isEmpty, let map = try? interpreter.map(opened.config, opened.layout) else {
            inventories = opened.inventories
            return
        }
        for (file, list) in opened.inventories {
            let layoutNames = Set(map.tensors(in: file).map(\.name))
            let stored = Set(list.map(\.key))
            func isIgnored(_ n: String) -> Bool { patterns.contains { $0.matches(n) } }
            var out: [ContainerTensor] = []
            var seen: [TensorKey: TensorKey] = [:]
            for t in list {
                var name = t.key.name
                if !layoutNames.contains(name) && !isIgnored(name) {
                    for a in aliases {
                        if let n = a.layoutName(for: name), layoutNames.contains(n) || isIgnored(n) {
                            name = n
                            break
                        }
                    }
                }
                let key = TensorKey(section: t.key.section, name: name)
                if isIgnored(name) {
                    ignored[file, default: []].append(t.key)
                    continue
                }
                if key != t.key && stored.contains(key) {
                    throw .duplicateTensor(path: opened.paths[file] ?? "", tensor: t.key.description, other: key.description)
                }
                if let other = seen[key] {
                    throw .duplicateTensor(path: opened.paths[file] ?? "", tensor: t.key.description, other: other.description)
                }
                seen[key] = t.key
                if key != t.key { storedKeys[file, default: [:]][key] = t.key }
                out.append(ContainerTensor(key: key, dtype: t.dtype, shape: t.shape))
            }
            inventories[file] = out
        }
    }
}
