// MessagePack codec for Terraform values (the `msgpack` field of DynamicValue), written for this test
// provider. Values are type-agnostic JS: null, booleans, numbers, strings, arrays (list/set/tuple), plain
// objects (map/object) and UNKNOWN. What terraform's object wire format says and this module implements:
// - an unknown value is any extension type; we write the unrefined form (fixext1, type 0, one zero byte)
//   and read every extension, refined (type 12) or not, as plain UNKNOWN (refinements are optional hints);
// - numbers may arrive as integers, floats, or strings holding a decimal (`conform` in cty.ts converts);
// - strings are UTF-8; binary (bin8/16/32) is only used by the "dynamic" type, which no coder schema has,
//   so it decodes to a string too.
// Integers beyond ±2^53 lose precision (no coder attribute holds one).

/** A value that is only known after apply. */
export class Unknown {
  // A private member makes the class nominal: no other value is structurally an Unknown.
  private readonly kind = "unknown";

  toString(): string {
    return `(${this.kind})`;
  }
}

export const UNKNOWN = new Unknown();

export type Value = null | Unknown | boolean | number | string | Value[] | ValueObject;
export interface ValueObject {
  [key: string]: Value;
}

export class MsgpackError extends Error {
  override name = "MsgpackError";
}

export function isUnknown(v: unknown): v is Unknown {
  return v instanceof Unknown;
}

export function isObject(v: unknown): v is ValueObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Unknown);
}

/** Sets `key` even when it is "__proto__" (map keys come from user configuration). */
export function setKey(obj: ValueObject, key: string, value: Value): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  private need(n: number): number {
    if (this.pos + n > this.bytes.length) throw new MsgpackError("msgpack: unexpected end of input");
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8 = () => this.view.getUint8(this.need(1));
  u16 = () => this.view.getUint16(this.need(2));
  u32 = () => this.view.getUint32(this.need(4));

  raw(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }

  str(n: number): string {
    return utf8.decode(this.raw(n));
  }

  value(): Value {
    const b = this.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b >= 0x80 && b <= 0x8f) return this.map(b & 0x0f);
    if (b >= 0x90 && b <= 0x9f) return this.array(b & 0x0f);
    if (b >= 0xa0 && b <= 0xbf) return this.str(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.str(this.u8());
      case 0xc5:
        return this.str(this.u16());
      case 0xc6:
        return this.str(this.u32());
      case 0xc7:
        return this.ext(this.u8());
      case 0xc8:
        return this.ext(this.u16());
      case 0xc9:
        return this.ext(this.u32());
      case 0xca:
        return this.view.getFloat32(this.need(4));
      case 0xcb:
        return this.view.getFloat64(this.need(8));
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf:
        return Number(this.view.getBigUint64(this.need(8)));
      case 0xd0:
        return this.view.getInt8(this.need(1));
      case 0xd1:
        return this.view.getInt16(this.need(2));
      case 0xd2:
        return this.view.getInt32(this.need(4));
      case 0xd3:
        return Number(this.view.getBigInt64(this.need(8)));
      case 0xd4:
        return this.ext(1);
      case 0xd5:
        return this.ext(2);
      case 0xd6:
        return this.ext(4);
      case 0xd7:
        return this.ext(8);
      case 0xd8:
        return this.ext(16);
      case 0xd9:
        return this.str(this.u8());
      case 0xda:
        return this.str(this.u16());
      case 0xdb:
        return this.str(this.u32());
      case 0xdc:
        return this.array(this.u16());
      case 0xdd:
        return this.array(this.u32());
      case 0xde:
        return this.map(this.u16());
      case 0xdf:
        return this.map(this.u32());
      default:
        throw new MsgpackError(`msgpack: unsupported type byte 0x${b.toString(16)}`);
    }
  }

  /** Any extension is an unknown value; its type byte and payload (refinements) are skipped. */
  private ext(length: number): Unknown {
    this.u8();
    this.raw(length);
    return UNKNOWN;
  }

  private array(n: number): Value[] {
    const out: Value[] = [];
    for (let i = 0; i < n; i++) out.push(this.value());
    return out;
  }

  private map(n: number): ValueObject {
    const out: ValueObject = {};
    for (let i = 0; i < n; i++) {
      const key = this.value();
      if (typeof key !== "string") throw new MsgpackError("msgpack: map key is not a string");
      setKey(out, key, this.value());
    }
    return out;
  }
}

/** Decodes one value; trailing bytes are an error. */
export function decodeMsgpack(bytes: Uint8Array): Value {
  const reader = new Reader(bytes);
  const value = reader.value();
  if (!reader.done) throw new MsgpackError("msgpack: trailing bytes after the value");
  return value;
}

class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }

  u16(v: number): void {
    this.room(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  head(n: number, fix: number, fixMax: number, c8: number | undefined, c16: number, c32: number): void {
    if (n <= fixMax) this.u8(fix | n);
    else if (c8 !== undefined && n <= 0xff) {
      this.u8(c8);
      this.u8(n);
    } else if (n <= 0xffff) {
      this.u8(c16);
      this.u16(n);
    } else {
      this.u8(c32);
      this.u32(n);
    }
  }

  number(v: number): void {
    if (Number.isInteger(v) && Number.isSafeInteger(v)) {
      if (v >= 0) {
        if (v <= 0x7f) this.u8(v);
        else if (v <= 0xff) {
          this.u8(0xcc);
          this.u8(v);
        } else if (v <= 0xffff) {
          this.u8(0xcd);
          this.u16(v);
        } else if (v <= 0xffffffff) {
          this.u8(0xce);
          this.u32(v);
        } else {
          this.u8(0xcf);
          this.room(8);
          this.view.setBigUint64(this.pos, BigInt(v));
          this.pos += 8;
        }
        return;
      }
      if (v >= -32) {
        this.u8(v & 0xff);
      } else if (v >= -0x80) {
        this.u8(0xd0);
        this.room(1);
        this.view.setInt8(this.pos, v);
        this.pos += 1;
      } else if (v >= -0x8000) {
        this.u8(0xd1);
        this.room(2);
        this.view.setInt16(this.pos, v);
        this.pos += 2;
      } else if (v >= -0x80000000) {
        this.u8(0xd2);
        this.room(4);
        this.view.setInt32(this.pos, v);
        this.pos += 4;
      } else {
        this.u8(0xd3);
        this.room(8);
        this.view.setBigInt64(this.pos, BigInt(v));
        this.pos += 8;
      }
      return;
    }
    if (!Number.isFinite(v)) {
      // cty numbers are finite decimals; infinities only exist transiently in terraform's own arithmetic.
      throw new MsgpackError(`msgpack: cannot encode the number ${v}`);
    }
    this.u8(0xcb);
    this.room(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  value(v: Value): void {
    if (v === null) {
      this.u8(0xc0);
      return;
    }
    if (v instanceof Unknown) {
      // fixext1, extension type 0, one ignored byte: the unrefined unknown value.
      this.u8(0xd4);
      this.u8(0);
      this.u8(0);
      return;
    }
    switch (typeof v) {
      case "boolean":
        this.u8(v ? 0xc3 : 0xc2);
        return;
      case "number":
        this.number(v);
        return;
      case "string": {
        const b = utf8Encoder.encode(v);
        this.head(b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
        this.bytes(b);
        return;
      }
    }
    if (Array.isArray(v)) {
      this.head(v.length, 0x90, 15, undefined, 0xdc, 0xdd);
      for (const e of v) this.value(e);
      return;
    }
    const keys = Object.keys(v);
    this.head(keys.length, 0x80, 15, undefined, 0xde, 0xdf);
    for (const k of keys) {
      this.value(k);
      this.value(v[k] as Value);
    }
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export function encodeMsgpack(value: Value): Uint8Array {
  const w = new Writer();
  w.value(value);
  return w.result();
}
