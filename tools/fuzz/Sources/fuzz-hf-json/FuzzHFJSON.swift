import CheckpointStore
import Containers

/// libFuzzer entry: the input as a JSON document, a config.json and a shard index. Whatever
/// parses must print back to text that parses to the same value; every refusal is one line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHFJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let v = try? JSONValue.parse(bytes) {
        for text in [JSONText.compact(v), JSONText.pretty(v, sortKeys: false)] {
            guard let back = try? JSONValue.parse(Array(text.utf8)), back == v else { fatalError("text round trip changed the value: \(text)") }
        }
    }
    do {
        let c = try HFConfig(json: bytes, path: "config.json")
        let again = try HFConfig(json: Array(c.jsonText().utf8), path: "config.json")
        guard again.model == c.model || c.modelType == "gpt2" && again.model.ropeTheta == 10000 else { fatalError("config round trip changed the model") }
    } catch {
        guard !error.description.contains("\n") else { fatalError("multi-line error: \(error.description)") }
    }
    do {
        let index = try HFShardIndex(json: bytes, path: "model.safetensors.index.json")
        for f in index.files where HFShardIndex.shardNameProblem(f) != nil { fatalError("accepted shard name \(f)") }
    } catch {
        guard !error.description.contains("\n") else { fatalError("multi-line error: \(error.description)") }
    }
    return 0
}
