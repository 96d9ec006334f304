/// What reading one attribute found: nothing by that name, an attribute HDF5 cannot decode
/// (damaged metadata), one of another type, or its value.
enum AttributeRead<Value> {
    /// No attribute of that name (`H5Aexists` answered no).
    case absent
    /// The attribute is listed but cannot be opened or read, or the lookup itself failed.
    case unreadable
    /// The attribute holds another type (a number where a string belongs, say).
    case wrongType
    /// The attribute's value.
    case value(Value)

    /// The value, or nil in every other case.
    var value: Value? {
        if case .value(let v) = self { return v }
        return nil
    }
}
