extension PickleValue {
    /// Every tensor in the value with a path naming where it sits (`model.layers.0.weight`,
    /// `optimizer.state.3.exp_avg`, `rng_state.0.torch_rng_state`): dict keys and object
    /// attributes by name, list and tuple elements by index, object arguments as
    /// `args.<i>`, a non-dict BUILD state as `state`; in the order a pickle holds them
    /// (arguments, items, then state). Nil when the paths would take more than `maxPathBytes`
    /// (a hostile pickle can re-use one value through the memo under many long paths).
    public func tensorsWithPaths(maxPathBytes: Int = 64 << 20) -> [(path: String, tensor: TorchTensorRef)]? {
        /// A path as a chain of segments, so pending values share their parents' paths.
        final class Segment {
            let parent: Segment?
            let name: String
            init(_ parent: Segment?, _ name: String) {
                self.parent = parent
                self.name = name
            }
        }
        func keyName(_ k: PickleValue) -> String {
            switch k {
            case .string(let s): return s
            case .int(let i): return String(i)
            default: return String("\(k)".prefix(64))
            }
        }
        var out: [(String, TorchTensorRef)] = []
        var budget = maxPathBytes
        var work: [(Segment?, PickleValue)] = [(nil, self)]
        while let (at, v) = work.popLast() {
            var children: [(Segment?, PickleValue)] = []
            func child(_ name: String, _ value: PickleValue) { children.append((Segment(at, name), value)) }
            switch v {
            case .tensor(let t):
                var parts: [String] = []
                var s = at
                while let x = s {
                    parts.append(x.name)
                    budget -= x.name.utf8.count + 1
                    s = x.parent
                }
                if budget < 0 { return nil }
                out.append((parts.reversed().joined(separator: "."), t))
            case .list(let e), .tuple(let e), .set(let e):
                for (i, x) in e.enumerated() { child(String(i), x) }
            case .dict(let entries):
                for e in entries { child(keyName(e.key), e.value) }
            case .object(let o):
                for (i, x) in o.args.enumerated() { child("args.\(i)", x) }
                for (i, x) in o.listItems.enumerated() { child(String(i), x) }
                for e in o.dictItems { child(keyName(e.key), e.value) }
                if let s = o.state {
                    if case .dict(let entries) = s {
                        for e in entries { child(keyName(e.key), e.value) }
                    } else {
                        child("state", s)
                    }
                }
            default: break
            }
            work.append(contentsOf: children.reversed())
        }
        return out
    }
}
