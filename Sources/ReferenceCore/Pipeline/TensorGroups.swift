/// The parameter names of a model grouped the way a pipelined pass loads and finishes them:
/// per block (`layers.{i}.*`), and the edge tensors (embeddings, final norm, head), each group
/// in canonical order.
struct TensorGroups {
    /// `layers.{i}.*` for each block i.
    let blocks: [[String]]
    /// Every tensor outside the blocks.
    let edge: [String]
    /// `embed.*`: final only after the whole backward pass.
    let embedding: [String]

    /// Groups `names` of a model with `layers` blocks.
    init(names: [String], layers: Int) {
        var blocks = [[String]](repeating: [], count: layers)
        var edge: [String] = [], embedding: [String] = []
        for name in names {
            if name.hasPrefix("layers."), let dot = name.dropFirst(7).firstIndex(of: "."), let i = Int(name[name.index(name.startIndex, offsetBy: 7)..<dot]),
                blocks.indices.contains(i)
            {
                blocks[i].append(name)
            } else {
                edge.append(name)
                if name.hasPrefix("embed.") { embedding.append(name) }
            }
        }
        self.blocks = blocks
        self.edge = edge
        self.embedding = embedding
    }
}
