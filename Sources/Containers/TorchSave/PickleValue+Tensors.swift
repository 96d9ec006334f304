extension PickleValue {
    /// Every tensor in the value with a path naming where it sits (`model.layers.0.weight`,
    /// `optimizer.state.3.exp_avg`, `rng_state.0.torch_rng_state`): dict keys and object
    /// attributes by name, list and tuple elements by index; in the order a pickle holds them.
    public var tensorsWithPaths: [(path: String, tensor: TorchTensorRef)] {
        var out: [(String, TorchTensorRef)] = []
        var work: [(String, PickleValue)] = [("", self)]
        func join(_ p: String, _ k: String) -> String { p.isEmpty ? k : p + "." + k }
        func keyName(_ k: PickleValue) -> String {
            switch k {
            case .string(let s): return s
            case .int(let i): return String(i)
            default: return "\(k)"
            }
        }
        while let (p, v) = work.popLast() {
            var children: [(String, PickleValue)] = []
            switch v {
            case .tensor(let t): out.append((p, t))
            case .list(let e), .tuple(let e), .set(let e): children = e.enumerated().map { (join(p, String($0.offset)), $0.element) }
            case .dict(let entries): children = entries.map { (join(p, keyName($0.key)), $0.value) }
            case .object(let o):
                // The order a pickle writes them: arguments, items, then the BUILD state.
                children = o.args.enumerated().map { (join(p, "args.\($0.offset)"), $0.element) }
                children += o.listItems.enumerated().map { (join(p, String($0.offset)), $0.element) }
                children += o.dictItems.map { (join(p, keyName($0.key)), $0.value) }
                if let s = o.state {
                    if case .dict(let entries) = s {
                        children += entries.map { (join(p, keyName($0.key)), $0.value) }
                    } else {
                        children.append((join(p, "state"), s))
                    }
                }
            default: break
            }
            work.append(contentsOf: children.reversed())
        }
        return out
    }
}
