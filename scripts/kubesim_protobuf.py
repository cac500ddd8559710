#!/usr/bin/env python3
"""Writes Sources/KubeSim/Generated/ProtobufMessages.swift: field numbers and types of the
Kubernetes protobuf messages of the built-in kinds KubeSim serves, so that it can read request
bodies sent as `application/vnd.kubernetes.protobuf` (kubectl 1.32+ and controller-runtime do).

Source: the protobuf file descriptors compiled into the kubectl binary of Debian's `kubectl`
package (the Go code registers each generated.proto as a gzipped FileDescriptorProto).
Run through `make kubesim-generated`.
"""
import json
import re
import sys
import zlib

SCALARS = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 8: "bool", 9: "string",
           12: "bytes", 13: "uint32", 17: "sint32", 18: "sint64"}


def varint(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def fields(data):
    """(number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 2:
            length, i = varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def read_message(data, prefix, messages):
    name = ""
    field_list, nested, is_map = [], [], False
    for number, _, value in fields(data):
        if number == 1:
            name = value.decode()
        elif number == 2:
            field = {}
            for n, _, v in fields(value):
                if n == 1: field["name"] = v.decode()
                elif n == 3: field["number"] = v
                elif n == 4: field["label"] = v
                elif n == 5: field["type"] = v
                elif n == 6: field["typeName"] = v.decode().lstrip(".")
            field_list.append(field)
        elif number == 3:
            nested.append(value)
        elif number == 7:
            is_map = any(n == 7 and v == 1 for n, _, v in fields(value))
    full = f"{prefix}.{name}"
    messages[full] = {"fields": field_list, "map": is_map}
    for child in nested:
        read_message(child, full, messages)


def descriptors(binary):
    messages = {}
    for match in re.finditer(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff", binary):
        try:
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(binary[match.start():match.start() + 4_000_000])
        except zlib.error:
            continue
        if b"generated.proto" not in data[:200]:
            continue
        package = ""
        parts = list(fields(data))
        for number, _, value in parts:
            if number == 2:
                package = value.decode()
        for number, _, value in parts:
            if number == 4:
                read_message(value, package, messages)
    return messages


def type_of(field, messages):
    if field["type"] in (11, 14):
        name = field["typeName"]
        if messages.get(name, {}).get("map"):
            entry = {f["number"]: f for f in messages[name]["fields"]}
            return f"map:{type_of(entry[2], messages)}"
        return f"msg:{name}"
    return SCALARS[field["type"]]


def main(binary_path, schemas_path, output):
    messages = descriptors(open(binary_path, "rb").read())
    definitions = json.loads(open(schemas_path).read().split('#"""\n', 1)[1].rsplit('\n"""#', 1)[0])["definitions"]
    proto_names = {name.replace("io.k8s.", "k8s.io.", 1): name for name in definitions}
    table, pending = {}, [name for name in proto_names if name in messages]
    renamed = []
    while pending:
        name = pending.pop()
        if name in table:
            continue
        properties = definitions.get(proto_names.get(name, ""), {}).get("properties", {})
        rows = []
        for field in messages[name]["fields"]:
            json_name = field["name"]
            if properties and json_name not in properties:
                candidates = [p for p in properties if p.replace("$", "").replace("-", "").lower() == json_name.lower()]
                inner = messages.get(field.get("typeName", ""), {}).get("fields", [])
                if len(candidates) == 1:
                    renamed.append(f"{name}.{json_name} -> {candidates[0]}")
                    json_name = candidates[0]
                elif inner and all(f["name"] in properties for f in inner):
                    # An embedded Go struct: its fields appear inline in JSON.
                    json_name = ""
            kind = type_of(field, messages)
            rows.append([field["number"], json_name, kind, field.get("label") == 3])
            for target in re.findall(r"msg:([\w.]+)", kind):
                pending.append(target)
        table[name] = rows
    document = json.dumps(table, separators=(",", ":"), sort_keys=True)
    with open(output, "w") as f:
        f.write("// Generated by scripts/kubesim_protobuf.py from the protobuf descriptors in Debian's kubectl "
                "package. Do not edit.\n\n")
        f.write("extension ProtobufMessages {\n")
        f.write("    /// Message name → fields as [number, JSON name, type, repeated]; types are scalar names,\n")
        f.write("    /// `msg:<message>` or `map:<value type>` (keys are strings).\n")
        f.write('    static let document = #"""\n')
        f.write(document)
        f.write('\n"""#\n}\n')
    print(f"{output}: {len(table)} messages, {len(document)} bytes", file=sys.stderr)
    for line in renamed:
        print("renamed", line, file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/lib/google-cloud-sdk/bin/kubectl.1.33",
         "Sources/KubeSim/Generated/BuiltInSchemas.swift",
         "Sources/KubeSim/Generated/ProtobufMessages.swift")
