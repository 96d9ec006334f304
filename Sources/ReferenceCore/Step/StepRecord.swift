import Foundation

/// What `ckpt step` records in the new checkpoint's `user_metadata` JSON object
/// (`formats/batch-v1.md`): `loss` (mean cross-entropy of the batch at θ before the step) and
/// `grad_norm` (global gradient L2 norm before clipping). Other keys are kept.
public enum StepRecord {
    /// `existing` (a JSON object, or nil) with `loss` and `grad_norm` set.
    public static func userJSON(merging existing: String?, loss: Double, gradNorm: Double) -> String {
        var object: [String: Any] = [:]
        if let existing, let d = existing.data(using: .utf8),
            let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any]
        {
            object = o
        }
        object["loss"] = loss
        object["grad_norm"] = gradNorm
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The `loss` recorded in a `user_metadata` JSON object, if any.
    public static func recordedLoss(_ userJSON: String?) -> Double? {
        guard let userJSON, let d = userJSON.data(using: .utf8),
            let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any]
        else { return nil }
        return (o["loss"] as? NSNumber)?.doubleValue
    }
}
