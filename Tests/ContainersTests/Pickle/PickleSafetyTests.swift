import Foundation
import Testing

@testable import Containers

/// Hostile pickles: dangerous globals, memo bombs, deep nesting, cycles, lying lengths.
@Suite struct PickleSafetyTests {
    func decode(_ b: [UInt8], limits: PickleLimits = PickleLimits()) throws(ContainerError) -> PickleValue {
        try PickleReader.decode(b, path: "evil.pt", entry: "evil/data.pkl", limits: limits)
    }

    func error(_ b: [UInt8], limits: PickleLimits = PickleLimits()) -> ContainerError? {
        do { _ = try decode(b, limits: limits) } catch { return error }
        return nil
    }

    static let dangerous: [(String, String)] = [
        ("os", "system"), ("builtins", "eval"), ("builtins", "exec"), ("builtins", "getattr"), ("builtins", "__import__"),
        ("builtins", "open"), ("builtins", "compile"), ("__builtin__", "eval"), ("__builtin__", "apply"), ("posix", "system"),
        ("nt", "system"), ("subprocess", "Popen"), ("subprocess", "check_output"), ("sys", "modules"), ("os.path", "join"),
        ("shutil", "rmtree"), ("socket", "socket"), ("importlib", "import_module"), ("pickle", "loads"), ("marshal", "loads"),
        ("runpy", "run_path"), ("ctypes", "CDLL"), ("pty", "spawn"), ("commands", "getoutput"), ("webbrowser", "open"),
        ("platform", "popen"), ("io", "open"), ("signal", "signal"),
    ]

    @Test(arguments: dangerous)
    func dangerousGlobalsAreRefusedNamingTheGlobal(module: String, name: String) throws {
        let shown = module + "." + name
        for stack in [false, true] {
            var p = PickleAssembler(protocol: stack ? 4 : 2)
            p.call(module, name, stack: stack, arg: "touch /tmp/pwned")
            let e = error(p.finished())
            guard case .refused(let path, let detail)? = e else {
                Issue.record("\(shown) via \(stack ? "STACK_GLOBAL" : "GLOBAL"): \(String(describing: e))")
                continue
            }
            #expect(path == "evil.pt")
            #expect(detail.hasPrefix("global ") && detail.contains(shown), "\(detail)")
            #expect(e!.description.hasSuffix("nothing in the file was executed"))
            #expect(!e!.description.contains("\n"))
        }
    }

    @Test func refusalMessageIsExact() throws {
        var p = PickleAssembler()
        p.call("os", "system", arg: "id")
        #expect(
            error(p.finished())
                == .refused(path: "evil.pt", detail: "global os.system names module os, which ckpt never reads, at byte 2 of pickle evil/data.pkl"))
    }

    @Test func instAndObjOpcodesObeyThePolicy() throws {
        var p = PickleAssembler(protocol: nil)
        p.op(.mark)
        p.unicode("id")
        p.op(.inst)
        p.raw(Array("posix\nsystem\n".utf8))
        #expect(error(p.finished()).map { if case .refused = $0 { true } else { false } } == true)
        var q = PickleAssembler()
        q.op(.mark)
        q.global("collections", "Counter")
        q.op(.obj)
        #expect(try decode(q.finished()) == .dict([]))
    }

    @Test func unknownGlobalsMayBeNamedButNotCalled() throws {
        var p = PickleAssembler()
        p.global("mylib.models", "Thing")
        #expect(try decode(p.finished()) == .global(PickleGlobal(module: "mylib.models", name: "Thing")))
        var q = PickleAssembler()
        q.call("mylib.models", "Thing", arg: "x")
        #expect(
            error(q.finished())
                == .refused(
                    path: "evil.pt",
                    detail: "global mylib.models.Thing is called, and it is not on ckpt's allow-list of callables, at byte 29 of pickle evil/data.pkl"))
        var r = PickleAssembler()
        r.call("builtins", "int", arg: "5")
        #expect(error(r.finished()).map { if case .refused = $0 { true } else { false } } == true)
    }

    @Test func opaqueClassesBecomeRecords() throws {
        var p = PickleAssembler()
        p.global("megatron.core.transformer.enums", "AttnBackend")
        p.int(5)
        p.op(.tuple1)
        p.op(.reduce)
        #expect(
            try decode(p.finished())
                == .object(PickleObject(type: PickleGlobal(module: "megatron.core.transformer.enums", name: "AttnBackend"), args: [.int(5)])))
    }

    @Test func codecsEncodeRefusesCodePointsAbove255() throws {
        var p = PickleAssembler()
        p.global("_codecs", "encode")
        p.unicode("\u{100}")
        p.unicode("latin1")
        p.op(.tuple2)
        p.op(.reduce)
        #expect(error(p.finished()) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 37: _codecs.encode: code point U+100 is not latin1"))
    }

    /// L0 = []; Lk = [Lk-1, Lk-1]: 2^60 values from a few hundred bytes.
    @Test(arguments: [false, true])
    func memoBombsAreRefusedQuickly(tuples: Bool) throws {
        var p = PickleAssembler()
        p.op(.emptyList)
        p.put(0)
        for k in 1...60 {
            if tuples {
                p.get(UInt8(k - 1))
                p.get(UInt8(k - 1))
                p.op(.tuple2)
            } else {
                p.op(.mark)
                p.get(UInt8(k - 1))
                p.get(UInt8(k - 1))
                p.op(.list)
            }
            p.put(UInt8(k))
            p.op(.pop)
        }
        p.get(60)
        let start = Date()
        let e = error(p.finished())
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(
            e
                == .malformed(
                    path: "evil.pt",
                    detail: "pickle evil/data.pkl: the pickle expands to more than 16777216 values (values shared through the memo, re-used too often)"))
        // A smaller DAG within the limit decodes, shared values repeated.
        var small = PickleAssembler()
        small.op(.emptyList)
        small.put(0)
        for k in 1...10 {
            small.get(UInt8(k - 1))
            small.get(UInt8(k - 1))
            small.op(.tuple2)
            small.put(UInt8(k))
            small.op(.pop)
        }
        small.get(10)
        var v = try decode(small.finished())
        var depth = 0
        while case .tuple(let e) = v, e.count == 2, e[0] == e[1] {
            v = e[0]
            depth += 1
        }
        #expect(depth == 10 && v == .list([]))
    }

    func nested(_ depth: Int) -> [UInt8] {
        var p = PickleAssembler()
        for _ in 0..<depth { p.op(.emptyList) }
        for _ in 0..<(depth - 1) { p.op(.append) }
        return p.finished()
    }

    @Test func nestingIsBounded() throws {
        _ = try decode(nested(1000))
        #expect(error(nested(1001)) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl: values nested deeper than the limit of 1000"))
        #expect(error(nested(5000)) != nil)
        var p = PickleAssembler()
        for _ in 0..<1001 { p.op(.mark) }
        #expect(error(p.finished()) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 1002: more than 1000 nested MARKs"))
    }

    @Test func cyclesAreRefused() throws {
        var p = PickleAssembler()
        p.op(.emptyList)
        p.put(0)
        p.get(0)
        p.op(.append)
        #expect(error(p.finished()) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl: a list contains itself (cyclic values are not read)"))
    }

    @Test func unknownOpcodeIsMalformed() throws {
        #expect(error([0x80, 2, 0xFF, 0x2E]) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 2: unknown opcode 0xFF"))
        #expect(error([0x80, 9, 0x4E, 0x2E]).map { if case .unsupported = $0 { true } else { false } } == true)
    }

    @Test func lyingLengthsAreMalformed() throws {
        var p = PickleAssembler()
        p.op(.binUnicode)
        p.le32(0xFFFF_FFF0)
        #expect(
            error(p.finished())
                == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 2: a 4294967280-byte value exceeds the limit of 268435456 bytes"))
        var p2 = PickleAssembler()
        p2.op(.binUnicode)
        p2.le32(1000)
        p2.raw([0x61, 0x62])
        #expect(
            error(p2.finished())
                == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 2: a 1000-byte value runs past the end of the pickle (3 bytes left)"))
        var q = PickleAssembler()
        q.op(.long4)
        q.le32(0xFFFF_FFFF)
        #expect(error(q.finished()) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 2: negative length"))
        var r = PickleAssembler()
        r.op(.binBytes8)
        r.raw([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(error(r.finished()) != nil)
        var f = PickleAssembler(protocol: 4)
        f.op(.frame)
        f.raw([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(
            error(f.finished())
                == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 2: a frame of 9223372036854775807 bytes runs past the end of the pickle"))
    }

    @Test func stackAndMemoMisuseIsMalformed() throws {
        #expect(error([0x80, 2, 0x2E]) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 2: stack underflow"))
        #expect(
            error([0x80, 2, 0x68, 7, 0x2E]) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 2: memo entry 7 read before it was written"))
        #expect(error([0x80, 2, 0x28, 0x61, 0x2E]) != nil)  // APPEND below a MARK
        #expect(
            error([0x80, 2, 0x4E, 0x4E, 0x52, 0x2E])
                == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 4: REDUCE calls a None, not a class or function"))
        #expect(error([0x80, 2, 0x4E]) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 3: the pickle ends before its STOP opcode"))
        #expect(error([0x80, 2, 0x4E, 0x4E, 0x73, 0x2E]) != nil)  // SETITEM on None
    }

    @Test func pushesAndMemoAreBounded() throws {
        var p = PickleAssembler()
        for _ in 0..<100 { p.op(.none) }
        #expect(
            error(p.finished(), limits: PickleLimits(maxNodes: 50)) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 52: more than 50 values")
        )
        var q = PickleAssembler()
        q.op(.none)
        for k in 0..<20 { q.put(UInt8(k)) }
        #expect(
            error(q.finished(), limits: PickleLimits(maxMemoEntries: 10))
                == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 23: more than 10 memo entries"))
        #expect(
            error(Array(repeating: 0x4E, count: 200), limits: PickleLimits(maxPickleBytes: 100))
                == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl of 200 bytes exceeds the limit of 100"))
    }

    @Test func textIntegersAreBounded() throws {
        var p = PickleAssembler(protocol: nil)
        p.op(.int)
        p.raw(Array((String(repeating: "9", count: 5000) + "\n").utf8))
        #expect(error(p.finished()) == .malformed(path: "evil.pt", detail: "pickle evil/data.pkl, byte 0: an integer of more than 4300 digits"))
        var q = PickleAssembler(protocol: nil)
        q.op(.long)
        q.raw(Array("-18446744073709551616L\n".utf8))
        #expect(try decode(q.finished()) == .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 0xFF]))
        var r = PickleAssembler(protocol: nil)
        r.op(.int)
        r.raw(Array("-9223372036854775808\n".utf8))
        #expect(try decode(r.finished()) == .int(Int64.min))
    }

    @Test func textStringsDecodeEscapes() throws {
        var p = PickleAssembler(protocol: nil)
        p.op(.string)
        p.raw(Array("'a\\x41\\n\\101\\\\'\n".utf8))
        #expect(try decode(p.finished()) == .string("aA\nA\\"))
        var q = PickleAssembler(protocol: nil)
        q.op(.unicode)
        q.raw([0x61, 0xE9] + Array("\\u263a\\\\u0041\n".utf8))
        #expect(try decode(q.finished()) == .string("a\u{E9}\u{263A}\\\\u0041"))
    }

    @Test func outOfBandBuffersAndExtensionsAreUnsupported() throws {
        #expect(error([0x80, 5, 0x97, 0x2E]).map { if case .unsupported = $0 { true } else { false } } == true)
        #expect(error([0x80, 2, 0x82, 1, 0x2E]).map { if case .unsupported = $0 { true } else { false } } == true)
        #expect(error([0x80, 2, 0x50] + Array("abc\n".utf8) + [0x2E]).map { if case .unsupported = $0 { true } else { false } } == true)
    }
}

/// Found by the fuzzer (a leak): boxes that reference each other are released after a run.
@Suite struct PickleCycleReleaseTests {
    @Test func releaseBreaksCycles() throws {
        // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND: a list containing itself.
        let bytes: [UInt8] = [0x80, 2, 0x5D, 0x71, 0, 0x68, 0, 0x61, 0x2E]
        let m = PickleMachine(bytes: bytes, path: "p", entry: "e", limits: PickleLimits())
        while m.position < bytes.count - 1 {
            m.opcodeStart = m.position
            try m.execute(try #require(PickleOpcode(rawValue: try m.byte())))
        }
        weak var list = m.stack.last?.box
        #expect(list != nil)
        m.release()
        #expect(list == nil)
        #expect(throws: ContainerError.self) { _ = try PickleReader.decode(bytes, path: "p", entry: "e") }
    }
}

/// Amplification through the memo outside the materializer: long keys, long text integers,
/// tensor paths.
@Suite struct PickleAmplificationTests {
    @Test func longKeysReusedThroughTheMemoStayCheap() throws {
        var p = PickleAssembler()
        p.op(.emptyDict)
        p.unicode(String(repeating: "k", count: 1 << 20))
        p.put(0)
        p.op(.pop)
        for _ in 0..<2000 {
            p.get(0)
            p.op(.none)
            p.op(.setItem)
        }
        let start = Date()
        guard case .dict(let e) = try PickleReader.decode(p.finished(), path: "p", entry: "e") else { throw ContainerError.malformed(path: "", detail: "") }
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(e.count == 2000)  // not indexed: appended, not replaced
        var q = PickleAssembler()
        q.op(.emptyDict)
        for v in 0..<3 {
            q.unicode("short")
            q.int(v)
            q.op(.setItem)
        }
        #expect(try PickleReader.decode(q.finished(), path: "p", entry: "e") == .dict([PickleDictEntry(key: .string("short"), value: .int(2))]))
    }

    @Test func longTextIntegersHaveATotalBudget() throws {
        var p = PickleAssembler(protocol: nil)
        p.op(.mark)
        for _ in 0..<20 {
            p.op(.int)
            p.raw(Array((String(repeating: "7", count: 1000) + "\n").utf8))
        }
        p.op(.list)
        #expect(throws: ContainerError.malformed(path: "p", detail: "pickle e, byte 16033: more than 16000 digits of long text integers")) {
            _ = try PickleReader.decode(p.finished(), path: "p", entry: "e", limits: PickleLimits(maxIntDigits: 1000))
        }
    }

    @Test func tensorPathsHaveABudget() throws {
        let s = TorchStorageRef(key: "0", dtypeName: "float32", isUntyped: false, location: "cpu", count: 1)
        let t = PickleValue.tensor(
            TorchTensorRef(storage: s, dtypeName: "float32", storageOffset: 0, shape: [], strides: [], requiresGrad: false, isParameter: false))
        let one = PickleValue.dict([PickleDictEntry(key: .string(String(repeating: "k", count: 1000)), value: t)])
        let many = PickleValue.list(Array(repeating: one, count: 100))
        #expect(many.tensorsWithPaths(maxPathBytes: 50_000) == nil)
        let all = try #require(many.tensorsWithPaths())
        #expect(all.count == 100 && all[7].path == "7." + String(repeating: "k", count: 1000))
    }
}
