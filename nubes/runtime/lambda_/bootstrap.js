// The in-worker side of a Node.js Lambda function: loads the handler once (the init phase),
// then answers invoke requests from nubes, one at a time, over the socket whose file
// descriptor nubes names in NUBES_LAMBDA_FD.
// Frames are a 4-byte big-endian length and a UTF-8 JSON document.
"use strict";

const fs = require("fs");
const net = require("net");
const path = require("path");
const { pathToFileURL } = require("url");

const util = require("util");

const END_MARK = "\u0000nubes-end ";
let currentRequestId = "";

const jsonLogs = process.env.AWS_LAMBDA_LOG_FORMAT === "JSON";
const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const minimumLevel = LEVELS.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || "TRACE").toUpperCase());

// As the AWS runtime does: console lines carry the time, request id and level (or are JSON
// objects in the JSON log format, dropped below the application log level).
for (const [method, level] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"], ["debug", "DEBUG"], ["trace", "TRACE"]]) {
  console[method] = (...args) => {
    const text = util.format(...args);
    const timestamp = new Date().toISOString();
    if (jsonLogs) {
      if (LEVELS.indexOf(level) < minimumLevel) return;
      const line = { timestamp, level, requestId: currentRequestId, message: text };
      fs.writeSync(1, JSON.stringify(line) + "\n");
      return;
    }
    fs.writeSync(1, `${timestamp}\t${currentRequestId || "undefined"}\t${level}\t${text.replace(/\n/g, "\r")}\n`);
  };
}

function errorDocument(err, type) {
  if (!(err instanceof Error)) {
    return { errorType: type || "string", errorMessage: String(err), trace: [] };
  }
  const trace = (err.stack || "").split("\n");
  return { errorType: type || err.name || "Error", errorMessage: err.message, trace };
}

function endInvocation(requestId) {
  fs.writeSync(2, END_MARK + requestId + "\n");
}

async function loadHandler(spec) {
  const dot = spec.lastIndexOf(".");
  if (dot < 0) {
    return { error: { errorType: "Runtime.MalformedHandlerName", errorMessage: `Bad handler ${spec}`, trace: [] } };
  }
  const moduleName = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT;
  const base = path.resolve(root, moduleName);
  let mod;
  try {
    const candidates = [".js", ".mjs", ".cjs"].map((ext) => base + ext).filter((f) => fs.existsSync(f));
    if (candidates.length === 0) {
      const err = new Error(`Cannot find module '${moduleName}'`);
      return { error: { errorType: "Runtime.ImportModuleError", errorMessage: `Error: ${err.message}`, trace: [] } };
    }
    const file = candidates[0];
    if (file.endsWith(".mjs")) {
      mod = await import(pathToFileURL(file).href);
    } else {
      try {
        mod = require(file);
      } catch (err) {
        if (err && err.code === "ERR_REQUIRE_ESM") {
          mod = await import(pathToFileURL(file).href);
        } else {
          throw err;
        }
      }
    }
  } catch (err) {
    if (err instanceof SyntaxError) {
      return { error: errorDocument(err, "Runtime.UserCodeSyntaxError") };
    }
    return { error: errorDocument(err) };
  }
  const handler = mod[name] || (mod.default && mod.default[name]);
  if (typeof handler !== "function") {
    return { error: { errorType: "Runtime.HandlerNotFound", errorMessage: `${moduleName}.${name} is undefined or not exported`, trace: [] } };
  }
  return { handler };
}

function makeContext(info, deadlineMs, finish) {
  return {
    awsRequestId: info.aws_request_id,
    functionName: info.function_name,
    functionVersion: info.function_version,
    invokedFunctionArn: info.invoked_function_arn,
    memoryLimitInMB: String(info.memory_limit_in_mb),
    logGroupName: info.log_group_name,
    logStreamName: info.log_stream_name,
    clientContext: info.client_context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(deadlineMs - Date.now())),
    succeed: (value) => finish(null, value),
    fail: (err) => finish(err),
    done: (err, value) => finish(err, value),
  };
}

function runHandler(handler, event, info, deadlineMs) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      resolve(err ? { err } : { value });
    };
    const context = makeContext(info, deadlineMs, finish);
    try {
      const out = handler(event, context, finish);
      if (out && typeof out.then === "function") {
        out.then((value) => finish(null, value), (err) => finish(err || new Error("rejected")));
      } else if (handler.length < 3 && out !== undefined) {
        finish(null, out);
      }
    } catch (err) {
      finish(err);
    }
  });
}

async function main() {
  const started = Date.now();
  const loaded = await loadHandler(process.env._HANDLER);
  endInvocation("init");
  const fd = Number(process.env.NUBES_LAMBDA_FD);
  delete process.env.NUBES_LAMBDA_FD;
  const sock = new net.Socket({ fd, readable: true, writable: true });
  const send = (message) => {
    const data = Buffer.from(JSON.stringify(message), "utf8");
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length, 0);
    sock.write(Buffer.concat([head, data]));
  };
  send({ type: "ready", init_ms: Date.now() - started, error: loaded.error || null });
  let buffered = Buffer.alloc(0);
  let queue = Promise.resolve();
  sock.on("data", (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const size = buffered.readUInt32BE(0);
      if (buffered.length < 4 + size) break;
      const request = JSON.parse(buffered.subarray(4, 4 + size).toString("utf8"));
      buffered = buffered.subarray(4 + size);
      queue = queue.then(() => serve(request, loaded.handler, send));
    }
  });
  sock.on("end", () => process.exit(0));
}

async function serve(request, handler, send) {
  const info = request.context;
  currentRequestId = info.aws_request_id;
  process.env._X_AMZN_TRACE_ID = request.trace_id || "";
  let event;
  try {
    event = request.payload ? JSON.parse(request.payload) : {};
  } catch (err) {
    event = {};
  }
  const outcome = await runHandler(handler, event, info, request.deadline_ms);
  let reply;
  if (outcome.err !== undefined) {
    const doc = errorDocument(outcome.err);
    console.error(`Invoke Error \t${JSON.stringify(doc)}`);
    reply = { type: "result", error: doc };
  } else {
    const text = outcome.value === undefined ? "null" : JSON.stringify(outcome.value);
    reply = { type: "result", payload: text === undefined ? "null" : text };
  }
  endInvocation(info.aws_request_id);
  send(reply);
}

main();
