import Foundation
import Testing

@testable import Containers

/// Pickles written by CPython 3 (`pickle.dumps(obj, protocol=p)` for p = 0...5) of one object
/// holding every kind of value, decoded against the value Python had.
@Suite struct PythonPickleTests {
    /// Made by `pickle.dumps` of the dict in `expected` (see its comments).
    static let pickles: [Int: String] = [
        0:
            "KGRwMApWaQpwMQpJNQpzVm5lZwpwMgpJLTcwMDAwCnNWYmlnCnAzCkwxMjA4OTI1ODE5NjE0NjI5MTc0NzA2MTc2TApzVm5iaWcKcDQKTC0xMTgwNTkxNjIwNzE3NDExMzAzNDI0TApzVmYKcDUKRjEuNQpzVnMKcDYKVmjpbGxvXHUwMDBhJyJcdTAwNWMKcDcKc1Z1CnA4ClZcdTY1ZTVcdTY3MmNcVTAwMDFmNjAwCnA5CnNWYgpwMTAKY19jb2RlY3MKZW5jb2RlCnAxMQooVlx1MDAwMP9hYgpwMTIKVmxhdGluMQpwMTMKdHAxNApScDE1CnNWYmEKcDE2CmNfX2J1aWx0aW5fXwpieXRlYXJyYXkKcDE3CihnMTEKKFZ4eQpwMTgKZzEzCnRwMTkKUnAyMAp0cDIxClJwMjIKc1ZsCnAyMwoobHAyNApJMQphKGxwMjUKSTIKYUkzCmFhKHRhc1Z0CnAyNgooSTEKSTIKSTMKSTQKdHAyNwpzVnNldApwMjgKY19fYnVpbHRpbl9fCnNldApwMjkKKChscDMwCkkxCmF0cDMxClJwMzIKc1ZmcwpwMzMKY19fYnVpbHRpbl9fCmZyb3plbnNldApwMzQKKChscDM1CkkyCmF0cDM2ClJwMzcKc1Zub25lCnAzOApOc1ZUCnAzOQpJMDEKc1ZGCnA0MApJMDAKc1ZvZApwNDEKY2NvbGxlY3Rpb25zCk9yZGVyZWREaWN0CnA0MgoodFJwNDMKVmEKcDQ0CkkxCnNzVm5zCnA0NQpjY29weV9yZWcKX3JlY29uc3RydWN0b3IKcDQ2CihjYXJncGFyc2UKTmFtZXNwYWNlCnA0NwpjX19idWlsdGluX18Kb2JqZWN0CnA0OApOdHA0OQpScDUwCihkcDUxClZ4CnA1MgpJMQpzYnNWc2hhcmVkCnA1MwoobHA1NAoobHA1NQpJNwphYWc1NQphc1ZlCnA1NgpjX19idWlsdGluX18KYnl0ZXMKcDU3Cih0UnA1OApzVmN4CnA1OQpjX19idWlsdGluX18KY29tcGxleApwNjAKKEYxLjAKRjIuMAp0cDYxClJwNjIKcy4=",
        1:
            "fXEAKFgBAAAAaXEBSwVYAwAAAG5lZ3ECSpDu/v9YAwAAAGJpZ3EDTDEyMDg5MjU4MTk2MTQ2MjkxNzQ3MDYxNzZMClgEAAAAbmJpZ3EETC0xMTgwNTkxNjIwNzE3NDExMzAzNDI0TApYAQAAAGZxBUc/+AAAAAAAAFgBAAAAc3EGWAoAAABow6lsbG8KJyJccQdYAQAAAHVxCFgKAAAA5pel5pys8J+YgHEJWAEAAABicQpjX2NvZGVjcwplbmNvZGUKcQsoWAUAAAAAw79hYnEMWAYAAABsYXRpbjFxDXRxDlJxD1gCAAAAYmFxEGNfX2J1aWx0aW5fXwpieXRlYXJyYXkKcREoaAsoWAIAAAB4eXESaA10cRNScRR0cRVScRZYAQAAAGxxF11xGChLAV1xGShLAksDZSllWAEAAAB0cRooSwFLAksDSwR0cRtYAwAAAHNldHEcY19fYnVpbHRpbl9fCnNldApxHShdcR5LAWF0cR9ScSBYAgAAAGZzcSFjX19idWlsdGluX18KZnJvemVuc2V0CnEiKF1xI0sCYXRxJFJxJVgEAAAAbm9uZXEmTlgBAAAAVHEnSTAxClgBAAAARnEoSTAwClgCAAAAb2RxKWNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxKilScStYAQAAAGFxLEsBc1gCAAAAbnNxLWNjb3B5X3JlZwpfcmVjb25zdHJ1Y3RvcgpxLihjYXJncGFyc2UKTmFtZXNwYWNlCnEvY19fYnVpbHRpbl9fCm9iamVjdApxME50cTFScTJ9cTNYAQAAAHhxNEsBc2JYBgAAAHNoYXJlZHE1XXE2KF1xN0sHYWg3ZVgBAAAAZXE4Y19fYnVpbHRpbl9fCmJ5dGVzCnE5KVJxOlgCAAAAY3hxO2NfX2J1aWx0aW5fXwpjb21wbGV4CnE8KEc/8AAAAAAAAEdAAAAAAAAAAHRxPVJxPnUu",
        2:
            "gAJ9cQAoWAEAAABpcQFLBVgDAAAAbmVncQJKkO7+/1gDAAAAYmlncQOKCwAAAAAAAAAAAAABWAQAAABuYmlncQSKCQAAAAAAAAAAwFgBAAAAZnEFRz/4AAAAAAAAWAEAAABzcQZYCgAAAGjDqWxsbwonIlxxB1gBAAAAdXEIWAoAAADml6XmnKzwn5iAcQlYAQAAAGJxCmNfY29kZWNzCmVuY29kZQpxC1gFAAAAAMO/YWJxDFgGAAAAbGF0aW4xcQ2GcQ5ScQ9YAgAAAGJhcRBjX19idWlsdGluX18KYnl0ZWFycmF5CnERaAtYAgAAAHh5cRJoDYZxE1JxFIVxFVJxFlgBAAAAbHEXXXEYKEsBXXEZKEsCSwNlKWVYAQAAAHRxGihLAUsCSwNLBHRxG1gDAAAAc2V0cRxjX19idWlsdGluX18Kc2V0CnEdXXEeSwFhhXEfUnEgWAIAAABmc3EhY19fYnVpbHRpbl9fCmZyb3plbnNldApxIl1xI0sCYYVxJFJxJVgEAAAAbm9uZXEmTlgBAAAAVHEniFgBAAAARnEoiVgCAAAAb2RxKWNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxKilScStYAQAAAGFxLEsBc1gCAAAAbnNxLWNhcmdwYXJzZQpOYW1lc3BhY2UKcS4pgXEvfXEwWAEAAAB4cTFLAXNiWAYAAABzaGFyZWRxMl1xMyhdcTRLB2FoNGVYAQAAAGVxNWNfX2J1aWx0aW5fXwpieXRlcwpxNilScTdYAgAAAGN4cThjX19idWlsdGluX18KY29tcGxleApxOUc/8AAAAAAAAEdAAAAAAAAAAIZxOlJxO3Uu",
        3:
            "gAN9cQAoWAEAAABpcQFLBVgDAAAAbmVncQJKkO7+/1gDAAAAYmlncQOKCwAAAAAAAAAAAAABWAQAAABuYmlncQSKCQAAAAAAAAAAwFgBAAAAZnEFRz/4AAAAAAAAWAEAAABzcQZYCgAAAGjDqWxsbwonIlxxB1gBAAAAdXEIWAoAAADml6XmnKzwn5iAcQlYAQAAAGJxCkMEAP9hYnELWAIAAABiYXEMY2J1aWx0aW5zCmJ5dGVhcnJheQpxDUMCeHlxDoVxD1JxEFgBAAAAbHERXXESKEsBXXETKEsCSwNlKWVYAQAAAHRxFChLAUsCSwNLBHRxFVgDAAAAc2V0cRZjYnVpbHRpbnMKc2V0CnEXXXEYSwFhhXEZUnEaWAIAAABmc3EbY2J1aWx0aW5zCmZyb3plbnNldApxHF1xHUsCYYVxHlJxH1gEAAAAbm9uZXEgTlgBAAAAVHEhiFgBAAAARnEiiVgCAAAAb2RxI2Njb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxJClScSVYAQAAAGFxJksBc1gCAAAAbnNxJ2NhcmdwYXJzZQpOYW1lc3BhY2UKcSgpgXEpfXEqWAEAAAB4cStLAXNiWAYAAABzaGFyZWRxLF1xLShdcS5LB2FoLmVYAQAAAGVxL0MAcTBYAgAAAGN4cTFjYnVpbHRpbnMKY29tcGxleApxMkc/8AAAAAAAAEdAAAAAAAAAAIZxM1JxNHUu",
        4:
            "gASVggEAAAAAAAB9lCiMAWmUSwWMA25lZ5RKkO7+/4wDYmlnlIoLAAAAAAAAAAAAAAGMBG5iaWeUigkAAAAAAAAAAMCMAWaURz/4AAAAAAAAjAFzlIwKaMOpbGxvCiciXJSMAXWUjArml6XmnKzwn5iAlIwBYpRDBAD/YWKUjAJiYZSMCGJ1aWx0aW5zlIwJYnl0ZWFycmF5lJOUQwJ4eZSFlFKUjAFslF2UKEsBXZQoSwJLA2UpZYwBdJQoSwFLAksDSwR0lIwDc2V0lI+UKEsBkIwCZnOUKEsCkZSMBG5vbmWUTowBVJSIjAFGlImMAm9klIwLY29sbGVjdGlvbnOUjAtPcmRlcmVkRGljdJSTlClSlIwBYZRLAXOMAm5zlIwIYXJncGFyc2WUjAlOYW1lc3BhY2WUk5QpgZR9lIwBeJRLAXNijAZzaGFyZWSUXZQoXZRLB2FoLmWMAWWUQwCUjAJjeJRoDYwHY29tcGxleJSTlEc/8AAAAAAAAEdAAAAAAAAAAIaUUpR1Lg==",
        5:
            "gAWVdQEAAAAAAAB9lCiMAWmUSwWMA25lZ5RKkO7+/4wDYmlnlIoLAAAAAAAAAAAAAAGMBG5iaWeUigkAAAAAAAAAAMCMAWaURz/4AAAAAAAAjAFzlIwKaMOpbGxvCiciXJSMAXWUjArml6XmnKzwn5iAlIwBYpRDBAD/YWKUjAJiYZSWAgAAAAAAAAB4eZSMAWyUXZQoSwFdlChLAksDZSlljAF0lChLAUsCSwNLBHSUjANzZXSUj5QoSwGQjAJmc5QoSwKRlIwEbm9uZZROjAFUlIiMAUaUiYwCb2SUjAtjb2xsZWN0aW9uc5SMC09yZGVyZWREaWN0lJOUKVKUjAFhlEsBc4wCbnOUjAhhcmdwYXJzZZSMCU5hbWVzcGFjZZSTlCmBlH2UjAF4lEsBc2KMBnNoYXJlZJRdlChdlEsHYWgpZYwBZZRDAJSMAmN4lIwIYnVpbHRpbnOUjAdjb21wbGV4lJOURz/wAAAAAAAAR0AAAAAAAAAAhpRSlHUu",
    ]

    static func s(_ v: String) -> PickleValue { .string(v) }
    static func i(_ v: Int64) -> PickleValue { .int(v) }

    /// {"i": 5, "neg": -70000, "big": 2**80, "nbig": -2**70, "f": 1.5, "s": "h\u00e9llo\\n'\"\\\\", "u": "日本😀",
    ///  "b": b"\\x00\\xffab", "ba": bytearray(b"xy"), "l": [1, [2, 3], ()], "t": (1, 2, 3, 4), "set": {1},
    ///  "fs": frozenset({2}), "none": None, "T": True, "F": False, "od": OrderedDict([("a", 1)]),
    ///  "ns": argparse.Namespace(x=1), "shared": [s, s] with s = [7], "e": b"", "cx": complex(1, 2)}
    static let expected: PickleValue = .dict(
        [
            ("i", i(5)), ("neg", i(-70000)), ("big", .bigInt(Array(repeating: 0, count: 10) + [1])),
            ("nbig", .bigInt(Array(repeating: 0, count: 8) + [0xC0])), ("f", .float(1.5)), ("s", s("h\u{E9}llo\n'\"\\")),
            ("u", s("\u{65E5}\u{672C}\u{1F600}")), ("b", .bytes([0, 255, 97, 98])), ("ba", .bytes([120, 121])),
            ("l", .list([i(1), .list([i(2), i(3)]), .tuple([])])), ("t", .tuple([i(1), i(2), i(3), i(4)])), ("set", .set([i(1)])),
            ("fs", .set([i(2)])), ("none", .none), ("T", .bool(true)), ("F", .bool(false)), ("od", .dict([PickleDictEntry(key: s("a"), value: i(1))])),
            (
                "ns",
                .object(
                    PickleObject(
                        type: PickleGlobal(module: "argparse", name: "Namespace"), state: .dict([PickleDictEntry(key: s("x"), value: i(1))]),
                        construction: .newObject))
            ),
            ("shared", .list([.list([i(7)]), .list([i(7)])])), ("e", .bytes([])),
            ("cx", .object(PickleObject(type: PickleGlobal(module: "builtins", name: "complex"), args: [.float(1), .float(2)]))),
        ].map { PickleDictEntry(key: s($0.0), value: $0.1) })

    @Test(arguments: 0...5)
    func everyProtocolDecodesToPythonsValue(protocol p: Int) throws {
        let bytes = try #require(Data(base64Encoded: Self.pickles[p]!))
        let v = try PickleReader.decode(Array(bytes), path: "x.pkl", entry: "protocol \(p)")
        guard case .dict(let got) = v, case .dict(let want) = Self.expected else {
            Issue.record("not a dict: \(v)")
            return
        }
        #expect(got.map(\.key) == want.map(\.key))
        for (g, w) in zip(got, want) { #expect(g == w, "\(w.key)") }
    }

    @Test(arguments: 0...5)
    func everyTruncationIsAnError(protocol p: Int) throws {
        let bytes = Array(try #require(Data(base64Encoded: Self.pickles[p]!)))
        for n in 0..<bytes.count {
            #expect(throws: ContainerError.self) { _ = try PickleReader.decode(Array(bytes.prefix(n)), path: "x.pkl", entry: "e") }
        }
    }

    @Test func writerOutputDecodesToTheSameValue() throws {
        // Dict keys only; the writer writes bytes, sets and objects as protocol 2 does.
        let v = try PickleReader.decode(try PickleWriter.encode(Self.expected, path: "x"), path: "x", entry: "e")
        #expect(v == Self.expected)
    }
}
