/// A fencing token: strictly greater than every token granted before it by the same table.
public typealias FencingToken = UInt64
