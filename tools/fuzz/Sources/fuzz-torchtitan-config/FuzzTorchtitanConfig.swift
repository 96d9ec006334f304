import Containers
import Sharding

/// libFuzzer entry: the input as a torchtitan job config (`TorchtitanJobConfig`, the JSON
/// `--model-config` reads). An accepted config must describe a valid model of ckpt's llama
/// family (what the layout interpreter relies on); every refusal is one line naming the file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorchtitanConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let job = try TorchtitanJobConfig(json: bytes, path: "job_config.json")
        let m = job.model
        guard m.validationProblem() == nil, m.family == "llama", m.hidden % m.heads == 0, m.normEps > 0, m.ropeTheta > 0 else {
            fatalError("accepted an invalid model: \(m)")
        }
        if let n = job.maxNorm, !n.isFinite { fatalError("accepted max_norm \(n)") }
    } catch {
        guard error.description.hasPrefix("job_config.json: "), !error.description.contains("\n") else {
            fatalError("error not one line naming the file: \(error.description)")
        }
    }
    return 0
}
