/// Manifests several test targets load into KubeSim.
public enum Manifests {
    /// KEDA's ScaledObject CRD, served at `version` (a schema that keeps every field).
    public static func kedaScaledObjectCRD(version: String = "v1alpha1") -> String {
        """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: scaledobjects.keda.sh}
        spec:
          group: keda.sh
          names: {kind: ScaledObject, plural: scaledobjects, singular: scaledobject}
          scope: Namespaced
          versions: [{name: \(version), served: true, storage: true, subresources: {status: {}}, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
        """
    }
}
