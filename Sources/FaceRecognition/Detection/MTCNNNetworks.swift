import CFaceNet
import Foundation

/// The three CFaceNet models, built once and read-only afterwards (safe to share across
/// threads; each forward pass brings its own context).
final class MTCNNNetworks: @unchecked Sendable {
    let pnet: OpaquePointer
    let rnet: OpaquePointer
    let onet: OpaquePointer

    init(pnet pnetDict: StateDict, rnet rnetDict: StateDict, onet onetDict: StateDict) throws(MTCNNError) {
        let p = try Self.build("P-Net", pnetDict) { lookup, user, out, message, capacity in
            var model: OpaquePointer?
            let status = cfn_mtcnn_pnet_create(lookup, user, &model, message, capacity)
            out = model
            return status
        }
        let r: OpaquePointer
        do {
            r = try Self.build("R-Net", rnetDict) { lookup, user, out, message, capacity in
                var model: OpaquePointer?
                let status = cfn_mtcnn_rnet_create(lookup, user, &model, message, capacity)
                out = model
                return status
            }
        } catch {
            cfn_mtcnn_pnet_destroy(p)
            throw error
        }
        let o: OpaquePointer
        do {
            o = try Self.build("O-Net", onetDict) { lookup, user, out, message, capacity in
                var model: OpaquePointer?
                let status = cfn_mtcnn_onet_create(lookup, user, &model, message, capacity)
                out = model
                return status
            }
        } catch {
            cfn_mtcnn_pnet_destroy(p)
            cfn_mtcnn_rnet_destroy(r)
            throw error
        }
        pnet = p
        rnet = r
        onet = o
    }

    deinit {
        cfn_mtcnn_pnet_destroy(pnet)
        cfn_mtcnn_rnet_destroy(rnet)
        cfn_mtcnn_onet_destroy(onet)
    }

    private typealias Builder = (cfn_tensor_lookup_fn, UnsafeMutableRawPointer, inout OpaquePointer?,
                                 UnsafeMutablePointer<CChar>, Int) -> cfn_status

    private static func build(_ net: String, _ dict: StateDict, _ builder: Builder) throws(MTCNNError) -> OpaquePointer {
        var message = [CChar](repeating: 0, count: 512)
        var model: OpaquePointer?
        let status = withTensorLookup(dict) { lookup, user in
            message.withUnsafeMutableBufferPointer { buffer in
                builder(lookup, user, &model, buffer.baseAddress!, buffer.count)
            }
        }
        guard status == CFN_OK, let model else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw .invalidWeights(net: net, reason: text.isEmpty ? String(cString: cfn_status_string(status)) : text)
        }
        return model
    }
}

/// The message a failed CFaceNet call left on its context.
func contextError(_ ctx: OpaquePointer, _ status: cfn_status) -> String {
    let text = String(cString: cfn_context_last_error(ctx))
    return text.isEmpty ? String(cString: cfn_status_string(status)) : text
}
