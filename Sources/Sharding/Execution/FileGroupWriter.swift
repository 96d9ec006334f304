import CheckpointStore
import Containers

/// Writes a group of output files in lockstep: tensor by tensor (see `order`), every file's
/// stream open at once, one row block per file per round.
///
/// The files of one pipeline stage hold the same tensors, and their pieces read the same source
/// rows (row-parallel weights, replicated tensors) or neighbouring ones (column-parallel
/// weights, Q/K/V of consecutive query groups), so each source window is decoded once and used
/// by every rank while it is cached. Memory: a block per appending thread (`RoundAppender`), the
/// cache, and each writer's bounded chunk pipeline. Files are written through `TensorContainerWriter`s made by `makeWriter`
/// from each file's manifest: its tensors and sections in the order `order` computes.
struct FileGroupWriter {
    /// One file of the group.
    struct Output {
        var planned: PlannedFile
        var path: String
        /// Sections (and dtypes) of each tensor, by stored name.
        var sections: [String: [SectionDType]]
    }

    let outputs: [Output]
    let blockBytes: Int
    let filler: BlockFiller
    /// Appends each round's blocks (in parallel across files whose writers allow it).
    let appender: RoundAppender
    /// Source tensors that groups written later read: their windows stay cached.
    var retained: Set<SourceWindowCache.Key> = []
    /// Creates the writer of one output from its manifest.
    let makeWriter: (Output, [ContainerTensor]) throws(ShardingError) -> any TensorContainerWriter

    /// Whether `outputs` can be written in lockstep: the same tensors (names, shapes, sections)
    /// in the same order.
    static func canGroup(_ outputs: [Output]) -> Bool {
        guard let first = outputs.first else { return true }
        return outputs.dropFirst().allSatisfy { o in
            o.planned.tensors.count == first.planned.tensors.count
                && zip(o.planned.tensors, first.planned.tensors).allSatisfy {
                    $0.target.name == $1.target.name && $0.target.shape == $1.target.shape
                        && o.sections[$0.target.name] == first.sections[$1.target.name]
                }
        }
    }

    /// The order tensors and sections are written in: consecutive tensors filled from the same
    /// source tensors (Q, K and V from one `linear_qkv`; gate and up from one `linear_fc1`) form
    /// a cluster written section by section, so the cluster's source windows are decoded once per
    /// section and the source files of one pipeline stage are read together.
    static func order(_ output: Output) -> [(Int, SectionDType)] {
        let tensors = output.planned.tensors
        func sources(_ t: PlannedTensor) -> Set<String> { Set(t.pieces.map { "\($0.source) \($0.sourceTensor)" }) }
        var out: [(Int, SectionDType)] = []
        var k = 0
        while k < tensors.count {
            let cluster = sources(tensors[k])
            var e = k + 1
            while e < tensors.count && !cluster.isEmpty && sources(tensors[e]) == cluster { e += 1 }
            var sections: [SectionDType] = []
            for i in k..<e { for s in output.sections[tensors[i].target.name] ?? [] where !sections.contains(s) { sections.append(s) } }
            for s in sections {
                for i in k..<e where output.sections[tensors[i].target.name]?.contains(s) == true { out.append((i, s)) }
            }
            k = e
        }
        return out
    }

    /// The tensors of `output` in writing order (stored name, section, dtype, shape): the
    /// manifest its writer is created with.
    static func manifest(_ output: Output) -> [ContainerTensor] {
        order(output).map { i, s in
            let t = output.planned.tensors[i].target
            return ContainerTensor(key: TensorKey(section: s.section, name: t.name), dtype: s.dtype, shape: t.shape)
        }
    }

    /// Writes and commits every file; on failure aborts them all (no temporary file is left).
    /// `progress` gets the bytes appended. Returns the writers' notes (`NotingContainerWriter`).
    @discardableResult
    func write(progress: (Int) -> Void) throws(ShardingError) -> [String] {
        guard let first = outputs.first else { return [] }
        var writers: [any TensorContainerWriter] = []
        do throws(ShardingError) {
            for o in outputs { writers.append(try makeWriter(o, Self.manifest(o))) }
            try writeRounds(Self.order(first), writers: writers, progress: progress)
            for w in writers {
                do { try w.commit() } catch { throw ShardingError.from(error) }
            }
            return writers.flatMap { ($0 as? any NotingContainerWriter)?.notes ?? [] }
        } catch {
            for w in writers { w.abort() }
            throw error
        }
    }

    /// One round: rows `rows` of tensor `tensor`'s section `section` in every file.
    private struct Round {
        var tensor: Int
        var section: SectionDType
        var rows: Range<Int>
    }

    /// Every row block of every tensor in `order`, as rounds; each file gets one block per round.
    private func rounds(_ order: [(Int, SectionDType)]) -> [Round] {
        var out: [Round] = []
        for (i, s) in order {
            let target = outputs[0].planned.tensors[i].target
            let rowsPerBlock = max(1, blockBytes / max(1, target.cols * s.dtype.size))
            var r0 = 0
            repeat {
                let r1 = min(target.rows, r0 + rowsPerBlock)
                out.append(Round(tensor: i, section: s, rows: r0..<r1))
                r0 = r1
            } while r0 < target.rows
        }
        return out
    }

    /// Writes the rounds in order. The source windows of the next round are loaded in the
    /// background (`prefetchAhead`) while the current round is written, so decoding overlaps
    /// encoding and writing; the cache budget bounds what is in flight. Windows no later round
    /// reads are retired after each round (unless `retained`: a later group reads the tensor),
    /// so their buffers serve the next loads while they are still warm.
    private func writeRounds(_ order: [(Int, SectionDType)], writers: [any TensorContainerWriter], progress: (Int) -> Void) throws(ShardingError) {
        let rounds = rounds(order)
        let requests = rounds.map { round in
            outputs.flatMap { filler.requests($0.planned.tensors[round.tensor], round.section, rows: round.rows) }
        }
        let retiring = Self.retirements(requests, retained: retained)
        let concurrently = writers.count > 1 && writers.allSatisfy(\.isIndependent)
        var streams: [any TensorByteSink] = []
        for (k, round) in rounds.enumerated() {
            let (i, s) = (round.tensor, round.section)
            if round.rows.lowerBound == 0 {
                streams = []
                for (o, w) in zip(outputs, writers) {
                    let t = o.planned.tensors[i].target
                    do { streams.append(try w.beginTensor(TensorKey(section: s.section, name: t.name), dtype: s.dtype, shape: t.shape)) } catch {
                        throw .from(error)
                    }
                }
            }
            // Every window this round needs, loaded in parallel (most already started ahead).
            try filler.cache.prefetch(requests[k])
            if k + 1 < rounds.count { filler.cache.prefetchAhead(requests[k + 1]) }
            let recipes = try outputs.map { (o: Output) throws(ShardingError) -> BlockRecipe in
                try filler.recipe(o.planned.tensors[i], s, rows: round.rows)
            }
            do { try appender.append(recipes, to: streams, concurrently: concurrently) } catch { throw .from(error) }
            for r in recipes { progress(r.byteCount) }
            if round.rows.upperBound == outputs[0].planned.tensors[i].target.rows {
                for stream in streams {
                    do { try stream.finish() } catch { throw .from(error) }
                }
            }
            for (key, kept) in retiring[k] { filler.cache.retire(key, keeping: kept) }
        }
    }

    /// For each round (`requests`: the source rows each reads), the source tensors it read with
    /// the rows of them later rounds still read: after the round, their other windows can go.
    /// Tensors in `retained` are left out.
    static func retirements(
        _ requests: [[SourceWindowCache.Request]], retained: Set<SourceWindowCache.Key>
    ) -> [[(SourceWindowCache.Key, [Range<Int>])]] {
        var out = [[(SourceWindowCache.Key, [Range<Int>])]](repeating: [], count: requests.count)
        var later: [SourceWindowCache.Key: [Range<Int>]] = [:]
        for k in requests.indices.reversed() {
            var seen = Set<SourceWindowCache.Key>()
            for q in requests[k] {
                let key = SourceWindowCache.Key(file: q.file, tensor: q.tensor)
                if !retained.contains(key) && seen.insert(key).inserted { out[k].append((key, later[key] ?? [])) }
            }
            for q in requests[k] where !q.rows.isEmpty {
                let key = SourceWindowCache.Key(file: q.file, tensor: q.tensor)
                later[key] = Self.union(later[key] ?? [], q.rows)
            }
        }
        return out
    }

    /// Sorted disjoint ranges `ranges` with `r` added (overlapping or adjacent ones joined).
    static func union(_ ranges: [Range<Int>], _ r: Range<Int>) -> [Range<Int>] {
        var lo = r.lowerBound, hi = r.upperBound
        var out: [Range<Int>] = []
        var placed = false
        for x in ranges {
            if x.upperBound < lo {
                out.append(x)
            } else if x.lowerBound > hi {
                if !placed {
                    out.append(lo..<hi)
                    placed = true
                }
                out.append(x)
            } else {
                lo = min(lo, x.lowerBound)
                hi = max(hi, x.upperBound)
            }
        }
        if !placed { out.append(lo..<hi) }
        return out
    }

    /// The source tensors the outputs read (their sections as filled from).
    static func sourceKeys(_ outputs: [Output]) -> Set<SourceWindowCache.Key> {
        var out = Set<SourceWindowCache.Key>()
        for o in outputs {
            for t in o.planned.tensors {
                for s in o.sections[t.target.name] ?? [] {
                    for p in t.pieces { out.insert(.init(file: p.source, tensor: TensorKey(section: s.sourceSection, name: p.sourceTensor))) }
                }
            }
        }
        return out
    }
}
