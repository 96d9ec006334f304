import CheckpointStore
import Containers

/// One parameter whose optimizer state a torchtitan checkpoint stores fused
/// (`FusedStateRule`, expanded for one layer): its parts' stored names, shapes and row blocks.
struct TorchtitanFusedParameter {
    /// The fused parameter's FQN (`layers.0.attention.qkv_linear.wqkv.weight`).
    var name: String
    /// The parts' stored names and layout shapes, in fusion order.
    var parts: [(name: String, shape: [Int])]
    /// Row blocks per part.
    var blocks: Int

    /// Rows of one block of each part.
    var blockRows: [Int] { parts.map { ($0.shape.first ?? 0) / blocks } }

    /// The parts' `state` tensors, each its row blocks of the fused moment `moment`.
    func entries(state: String, moment e: DistTensorEntry, path: String) throws(ShardingError) -> [(ContainerTensor, DistRegion)] {
        let rows = parts.reduce(0) { $0 + ($1.shape.first ?? 0) }
        let want = [rows] + (parts.first?.shape.dropFirst() ?? [])
        guard e.shape == want else { throw .wrongShape(path: path, tensor: PrintableName.of(e.fqn), expected: want, actual: e.shape) }
        let per = blockRows, stride = per.reduce(0, +)
        var out: [(ContainerTensor, DistRegion)] = []
        for (p, part) in parts.enumerated() {
            let before = per[..<p].reduce(0, +)
            let pieces = (0..<blocks).map { b in
                DistRegion.Piece(
                    fqn: e.fqn, rows: b * per[p]..<(b + 1) * per[p], offsets: [b * stride + before] + part.shape.dropFirst().map { _ in 0 },
                    prefix: 0)
            }
            out.append((ContainerTensor(key: .optimizer(state, part.name), dtype: e.dtype, shape: part.shape), .pieces(pieces)))
        }
        return out
    }

    /// The fused parameters of `rules` for `config`, by stored name.
    static func expand(_ rules: [FusedStateRule], config: ModelConfig, shapes: [String: [Int]]) throws(ShardingError) -> [String: TorchtitanFusedParameter] {
        var out: [String: TorchtitanFusedParameter] = [:]
        for r in rules {
            let perLayer = r.name.contains("{i}")
            for i in perLayer ? Array(0..<config.layers) : [0] {
                let name = LayoutInterpreter.fill(r.name, i: i, j: nil)
                var parts: [(String, [Int])] = []
                for template in r.parts {
                    let n = LayoutInterpreter.fill(template, i: i, j: nil)
                    guard let s = shapes[n], s.count == 2 else {
                        throw .layoutMismatch("fused optimizer state \(name) names part \(n), which is not a 2-D tensor of the layout")
                    }
                    parts.append((n, s))
                }
                let blocks: Int
                switch r.blocks {
                case .kvHeads: blocks = config.kvHeads
                case .tp, .one: blocks = 1
                }
                for (n, s) in parts where s[0] % blocks != 0 || s[1] != parts[0].1[1] {
                    throw .layoutMismatch("fused optimizer state \(name): part \(n) \(s) does not cut into \(blocks) row blocks like \(parts[0].0)")
                }
                out[name] = TorchtitanFusedParameter(name: name, parts: parts, blocks: blocks)
            }
        }
        return out
    }
}
