// Flattens a FileDescriptorSet (buf's JSON output) into comparable entries keyed by full name, so two
// versions of the protocol can be compared element by element.
export type Entry =
  | { kind: "message" }
  | { kind: "reserved"; ranges: string[]; names: string[] }
  | {
      kind: "field";
      number: number;
      label: string;
      type: string;
      typeName: string;
      oneof: string;
      proto3Optional: boolean;
    }
  | { kind: "enum" }
  | { kind: "enumValue"; number: number }
  | { kind: "method"; input: string; output: string; clientStreaming: boolean; serverStreaming: boolean };

interface FieldJson {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName?: string;
  oneofIndex?: number;
  proto3Optional?: boolean;
}
interface MessageJson {
  name: string;
  field?: FieldJson[];
  nestedType?: MessageJson[];
  enumType?: EnumJson[];
  oneofDecl?: Array<{ name: string }>;
  reservedRange?: Array<{ start: number; end: number }>;
  reservedName?: string[];
}
interface EnumJson {
  name: string;
  value?: Array<{ name: string; number: number }>;
}
interface FileJson {
  package: string;
  messageType?: MessageJson[];
  enumType?: EnumJson[];
  service?: Array<{
    name: string;
    method?: Array<{
      name: string;
      inputType: string;
      outputType: string;
      clientStreaming?: boolean;
      serverStreaming?: boolean;
    }>;
  }>;
}

export function flattenDescriptorSet(set: { file: FileJson[] }): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const addEnum = (prefix: string, e: EnumJson) => {
    out.set(`${prefix}.${e.name}`, { kind: "enum" });
    for (const v of e.value ?? [])
      out.set(`${prefix}.${e.name}.${v.name}`, { kind: "enumValue", number: v.number });
  };
  const addMessage = (prefix: string, m: MessageJson) => {
    const name = `${prefix}.${m.name}`;
    out.set(name, { kind: "message" });
    if (m.reservedRange?.length || m.reservedName?.length) {
      out.set(`${name}#reserved`, {
        kind: "reserved",
        ranges: (m.reservedRange ?? []).map((r) => `${r.start}-${r.end}`).sort(),
        names: [...(m.reservedName ?? [])].sort(),
      });
    }
    for (const f of m.field ?? []) {
      out.set(`${name}.${f.name}`, {
        kind: "field",
        number: f.number,
        label: f.label,
        type: f.type,
        typeName: f.typeName ?? "",
        oneof: f.oneofIndex === undefined ? "" : (m.oneofDecl?.[f.oneofIndex]?.name ?? "?"),
        proto3Optional: f.proto3Optional ?? false,
      });
    }
    for (const nested of m.nestedType ?? []) addMessage(name, nested);
    for (const e of m.enumType ?? []) addEnum(name, e);
  };
  for (const file of set.file) {
    for (const m of file.messageType ?? []) addMessage(file.package, m);
    for (const e of file.enumType ?? []) addEnum(file.package, e);
    for (const s of file.service ?? []) {
      for (const method of s.method ?? []) {
        out.set(`${file.package}.${s.name}/${method.name}`, {
          kind: "method",
          input: method.inputType,
          output: method.outputType,
          clientStreaming: method.clientStreaming ?? false,
          serverStreaming: method.serverStreaming ?? false,
        });
      }
    }
  }
  return out;
}
