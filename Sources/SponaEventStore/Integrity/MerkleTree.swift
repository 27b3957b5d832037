import Crypto
import Foundation

/// The Merkle tree over the whole history that seals sign, in the manner of Certificate
/// Transparency (RFC 6962 §2.1, RFC 9162 §2.1): leaves are the events' chain hashes in the
/// store's gap-safe order, which never changes below the read horizon. A later tree can then
/// be proven to extend an earlier one with a logarithmic consistency proof, so an auditor who
/// kept one seal can check any later one without the events in between.
///
///     leaf  = SHA-256(0x00 ‖ event hash)
///     node  = SHA-256(0x01 ‖ left ‖ right)
///     MTH(n leaves) = node(MTH(first k), MTH(rest)), k the largest power of two below n
public enum MerkleTree {
    public typealias Hash = [UInt8]

    public static let emptyRoot: Hash = Array(SHA256.hash(data: Data()))

    public static func leaf(_ eventHash: Hash) -> Hash {
        var hasher = SHA256()
        hasher.update(data: [0])
        hasher.update(data: eventHash)
        return Array(hasher.finalize())
    }

    public static func node(_ left: Hash, _ right: Hash) -> Hash {
        var hasher = SHA256()
        hasher.update(data: [1])
        hasher.update(data: left)
        hasher.update(data: right)
        return Array(hasher.finalize())
    }

    /// The root of `leaves` (already leaf-hashed), computed directly: for proofs and tests.
    public static func root(_ leaves: ArraySlice<Hash>) -> Hash {
        switch leaves.count {
        case 0: return emptyRoot
        case 1: return leaves[leaves.startIndex]
        default:
            let k = largestPowerOfTwo(below: leaves.count)
            return node(root(leaves.prefix(k)), root(leaves.dropFirst(k)))
        }
    }

    /// The consistency proof that the tree of the first `m` leaves is a prefix of the tree of
    /// all `leaves` (RFC 6962 §2.1.2, PROOF(m, D[n])).
    public static func consistencyProof(from m: Int, leaves: [Hash]) -> [Hash] {
        precondition(m >= 0 && m <= leaves.count)
        guard m > 0, m < leaves.count else { return [] }
        return subproof(m, leaves[...], complete: true)
    }

    private static func subproof(_ m: Int, _ leaves: ArraySlice<Hash>, complete: Bool) -> [Hash] {
        let n = leaves.count
        if m == n { return complete ? [] : [root(leaves)] }
        let k = largestPowerOfTwo(below: n)
        if m <= k {
            return subproof(m, leaves.prefix(k), complete: complete) + [root(leaves.dropFirst(k))]
        }
        return subproof(m - k, leaves.dropFirst(k), complete: false) + [root(leaves.prefix(k))]
    }

    /// Checks a consistency proof between two tree heads (RFC 9162 §2.1.4.2): true when the
    /// tree of size `first` with root `firstRoot` is a prefix of the tree of size `second`
    /// with root `secondRoot`.
    public static func verifyConsistency(first: Int, firstRoot: Hash, second: Int, secondRoot: Hash, proof: [Hash]) -> Bool {
        guard first >= 0, first <= second else { return false }
        if first == second { return proof.isEmpty && firstRoot == secondRoot }
        if first == 0 { return proof.isEmpty }
        var path = proof
        // When the first tree is a complete subtree, its root is the proof's implicit start.
        if first & (first - 1) == 0 { path.insert(firstRoot, at: 0) }
        guard !path.isEmpty else { return false }
        var fn = first - 1
        var sn = second - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = node(c, fr)
                sr = node(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && fr == firstRoot && sr == secondRoot
    }

    static func largestPowerOfTwo(below n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }
}

/// The tree grown one leaf at a time, keeping only the roots of its complete subtrees (at
/// most 64 hashes): its root is available at any size, so a single pass over a history of
/// any length checks every seal in it with flat memory.
public struct MerkleFrontier: Sendable, Hashable {
    /// Roots of complete subtrees, largest (leftmost) first; their sizes are the binary
    /// digits of `size`.
    public private(set) var subtrees: [MerkleTree.Hash] = []
    public private(set) var size: Int64 = 0

    public init() {}

    /// A frontier as a seal stored it, to carry on from there.
    public init(size: Int64, subtrees: [MerkleTree.Hash]) {
        self.size = size
        self.subtrees = subtrees
    }

    public mutating func append(eventHash: MerkleTree.Hash) {
        var hash = MerkleTree.leaf(eventHash)
        var carried = size
        // Each trailing 1 bit of the size is a complete subtree the new leaf merges with.
        while carried & 1 == 1 {
            hash = MerkleTree.node(subtrees.removeLast(), hash)
            carried >>= 1
        }
        subtrees.append(hash)
        size += 1
    }

    public var root: MerkleTree.Hash {
        guard var hash = subtrees.last else { return MerkleTree.emptyRoot }
        for left in subtrees.dropLast().reversed() { hash = MerkleTree.node(left, hash) }
        return hash
    }
}
