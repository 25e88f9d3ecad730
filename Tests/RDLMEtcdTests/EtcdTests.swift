import Foundation
import NIOCore
import RDLMEtcd
import RDLMTestSupport
import Testing

/// One serialized suite over the cluster: the fault tests kill members, which the others
/// must not see. Each nested suite is a concern.
@Suite(
    "etcd client against a 3-member cluster", .serialized,
    .enabled(if: EtcdCluster.isRunning, "RDLM_TEST_ETCD_DIR is not set: start a cluster with scripts/etcd-cluster.sh start DIR (scripts/test.sh does)")
)
struct EtcdTests {}
