import CHDF5

/// An open dataset with everything a read needs: shape, type, chunking and whether ckpt can
/// decode its chunks itself (the fast path) or must let HDF5 do it.
final class StoredDataset {
    let object: H5Object
    let fileType: H5Object
    let info: TensorInfo
    /// Set when every filter is one ckpt decodes (shuffle, zstd, LZ4, Fletcher32).
    let decoder: ChunkDecoder?
    /// The chunk layout, for chunked datasets.
    let layout: ChunkLayout?
    /// The fill value's bytes (one element), used for chunks that were never written.
    let fill: [UInt8]
    /// The id of a filter in the pipeline that this process has no implementation of.
    var unavailableFilter: Int32?

    init(object: H5Object, fileType: H5Object, info: TensorInfo, decoder: ChunkDecoder?, layout: ChunkLayout?, fill: [UInt8]) {
        self.object = object
        self.fileType = fileType
        self.info = info
        self.decoder = decoder
        self.layout = layout
        self.fill = fill
    }

    /// Opens and describes the dataset at `key` (at `datasetPath` instead when given: a dataset
    /// of any HDF5 file, messages naming it as `key`). With `ckptAttributes` false the dataset's
    /// `dtype`, `codec` and `xxh3_64` attributes (ckpt's own) are not consulted.
    static func open(
        file: hid_t, path: String, key: TensorKey, datasetPath: String? = nil, ckptAttributes: Bool = true
    ) throws(StoreError) -> StoredDataset {
        let t = key.description
        guard let ds = H5Object(H5Dopen2(file, datasetPath ?? key.datasetPath, ckpt_H5P_DEFAULT()), .dataset) else {
            throw .corruptFile(path: path, detail: "cannot open tensor \(t)")
        }
        guard let ftype = H5Object(H5Dget_type(ds.id), .datatype) else { throw .hdf5(path: path, tensor: t, operation: "H5Dget_type") }
        guard let typed = H5Datatypes.dtype(of: ftype.id) else {
            throw .unsupportedTensor(path: path, tensor: t, detail: "HDF5 datatype is not one of ckpt's dtypes")
        }
        var dtype = typed
        let dtypeAttribute = ckptAttributes ? H5Attributes.probeString(ds.id, "dtype") : .absent
        if case .unreadable = dtypeAttribute {
            throw .corruptFile(path: path, detail: "metadata damaged: attribute 'dtype' of tensor \(t) cannot be read")
        }
        if let attr = dtypeAttribute.value {
            guard let named = DType(rawValue: attr) else {
                throw .unsupportedTensor(path: path, tensor: t, detail: "unknown dtype '\(attr)'")
            }
            guard named.size == typed.size else {
                throw .unsupportedTensor(path: path, tensor: t, detail: "dtype attribute '\(attr)' contradicts the stored \(typed.rawValue) data")
            }
            dtype = named
        }
        guard let space = H5Object(H5Dget_space(ds.id), .dataspace) else { throw .hdf5(path: path, tensor: t, operation: "H5Dget_space") }
        let rank = Int(H5Sget_simple_extent_ndims(space.id))
        guard rank >= 0 else { throw .corruptFile(path: path, detail: "tensor \(t): unreadable dataspace") }
        var dims = [hsize_t](repeating: 0, count: rank)
        if rank > 0 { H5Sget_simple_extent_dims(space.id, &dims, nil) }
        let shape = dims.map { Int($0) }
        guard let dcpl = H5Object(H5Dget_create_plist(ds.id), .plist) else { throw .hdf5(path: path, tensor: t, operation: "H5Dget_create_plist") }
        var chunkShape: [Int]? = nil
        var missingFilter: Int32? = nil
        var decoder: ChunkDecoder? = nil
        var codecParts: [String] = []
        if H5Pget_layout(dcpl.id) == H5D_CHUNKED {
            var cdims = [hsize_t](repeating: 0, count: max(rank, 1))
            H5Pget_chunk(dcpl.id, Int32(rank), &cdims)
            chunkShape = cdims.prefix(rank).map { Int($0) }
            var steps: [ChunkDecoder.Step] = []
            var known = true
            var missing: Int32? = nil
            let nf = H5Pget_nfilters(dcpl.id)
            for i in 0..<max(0, nf) {
                var flags: UInt32 = 0
                var ncd = 8
                var cd = [UInt32](repeating: 0, count: 8)
                var name = [CChar](repeating: 0, count: 64)
                var config: UInt32 = 0
                let fid = H5Pget_filter2(dcpl.id, UInt32(i), &flags, &ncd, &cd, 64, &name, &config)
                switch fid {
                case 2: steps.append(.shuffle(elementSize: ncd > 0 && cd[0] > 0 ? Int(cd[0]) : dtype.size)); codecParts.append("shuffle")
                case ZstdFilter.id: steps.append(.zstd); codecParts.append(ncd > 0 ? "zstd:\(Int32(bitPattern: cd[0]))" : "zstd")
                case 3: steps.append(.fletcher32); codecParts.append("fletcher32")
                case LZ4Filter.id: steps.append(.lz4); codecParts.append("lz4")
                case 1: known = false; codecParts.append(ncd > 0 ? "gzip:\(cd[0])" : "gzip")
                default: known = false; codecParts.append("filter\(fid)")
                }
                if H5Zfilter_avail(fid) <= 0 { missing = fid }
            }
            missingFilter = missing
            if known, let cs = chunkShape {
                decoder = ChunkDecoder(steps: steps, chunkBytes: cs.reduce(1, *) * dtype.size)
            }
        }
        var fill = [UInt8](repeating: 0, count: dtype.size)
        var status = H5D_FILL_VALUE_UNDEFINED
        if H5Pfill_value_defined(dcpl.id, &status) >= 0, status == H5D_FILL_VALUE_USER_DEFINED {
            _ = H5Pget_fill_value(dcpl.id, ftype.id, &fill)
        }
        let recordedCodec = ckptAttributes ? H5Attributes.readString(ds.id, "codec") : nil
        let codec = recordedCodec ?? (codecParts.isEmpty ? "none" : codecParts.joined(separator: "+"))
        let checksum: AttributeRead<UInt64> = ckptAttributes ? H5Attributes.probeUInt64(ds.id, "xxh3_64") : .absent
        if case .unreadable = checksum {
            throw .corruptFile(path: path, detail: "metadata damaged: attribute 'xxh3_64' of tensor \(t) cannot be read")
        }
        let info = TensorInfo(
            key: key, dtype: dtype, shape: shape, chunkShape: chunkShape,
            storedBytes: Int(H5Dget_storage_size(ds.id)), codec: codec,
            xxh3: checksum.value, hasDTypeAttribute: dtypeAttribute.value != nil)
        let layout = chunkShape.map { ChunkLayout(shape: shape, chunk: $0) }
        let stored = StoredDataset(object: ds, fileType: ftype, info: info, decoder: decoder, layout: layout, fill: fill)
        stored.unavailableFilter = missingFilter
        return stored
    }
}
