// The provisioner registry: loading types with and without options, unknown types, and which types this host
// can run (terraform is detected on the PATH given, here a directory holding a fake terraform or nothing).
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { after, describe, test } from "node:test";
import {
  availableProvisionerTypes,
  loadProvisioner,
  UnknownProvisionerTypeError,
} from "../../src/provisioners/registry.js";
import { TerraformEnvError } from "../../src/provisioners/terraform/env.js";
import { fakeTerraform, TempDirs } from "./terraform/runtime-fixtures.js";

const temp = new TempDirs();
after(() => temp.cleanup());

describe("loadProvisioner", () => {
  test("GIVEN no options WHEN a type is loaded twice THEN the same default instance comes back", async () => {
    for (const type of ["echo", "terraform"]) {
      const first = await loadProvisioner(type);
      assert.equal(typeof first.plan, "function");
      assert.equal(await loadProvisioner(type), first, type);
    }
  });

  test("GIVEN terraform options WHEN terraform is loaded THEN a provisioner configured by them comes back", async () => {
    const defaults = await loadProvisioner("terraform");
    const configured = await loadProvisioner("terraform", {
      terraform: { exitTimeoutMs: 1_000, extraEnv: { TF_LOG: "info" } },
    });
    assert.notEqual(configured, defaults);
  });

  test("GIVEN a terraform setting that is not TF_* WHEN terraform is loaded THEN the terraform error reaches the caller", async () => {
    await assert.rejects(
      loadProvisioner("terraform", { terraform: { extraEnv: { PATH: "/elsewhere" } } }),
      TerraformEnvError,
    );
  });

  test("GIVEN terraform options WHEN echo is loaded THEN they are ignored", async () => {
    assert.equal(
      await loadProvisioner("echo", { terraform: { extraEnv: { PATH: "/elsewhere" } } }),
      await loadProvisioner("echo"),
    );
  });

  test("GIVEN an unknown type or an inherited property name WHEN loaded THEN UnknownProvisionerTypeError lists the known types", async () => {
    for (const type of ["pulumi", "toString", "__proto__"]) {
      await assert.rejects(loadProvisioner(type), (err: unknown) => {
        assert.ok(err instanceof UnknownProvisionerTypeError, type);
        assert.match(err.message, /\(known: echo, terraform\)$/);
        return true;
      });
    }
  });
});

describe("availableProvisionerTypes", () => {
  const cases: {
    name: string;
    path: () => Promise<string>;
    types: string[];
    reason?: RegExp;
  }[] = [
    {
      name: "a usable terraform on PATH",
      path: async () => dirname(await fakeTerraform(temp, "print-env", "1.11.0")),
      types: ["echo", "terraform"],
    },
    {
      name: "a terraform older than 1.0 on PATH",
      path: async () => dirname(await fakeTerraform(temp, "print-env", "0.15.5")),
      types: ["echo"],
      reason: /too old/,
    },
    {
      name: "no terraform on PATH",
      path: () => temp.make("empty-path"),
      types: ["echo"],
      reason: /^terraform version: /,
    },
  ];
  for (const c of cases) {
    test(`GIVEN ${c.name} WHEN asked THEN the types are ${c.types.join(", ")}`, {
      timeout: 20_000,
    }, async () => {
      const unavailable: [string, string][] = [];
      const types = await availableProvisionerTypes({
        env: { PATH: await c.path() },
        onUnavailable: (type, reason) => unavailable.push([type, reason]),
      });
      assert.deepEqual(types, c.types);
      if (c.reason) {
        assert.equal(unavailable.length, 1);
        assert.equal(unavailable[0]?.[0], "terraform");
        assert.match(unavailable[0]?.[1] ?? "", c.reason);
      } else {
        assert.deepEqual(unavailable, []);
      }
    });
  }
});
