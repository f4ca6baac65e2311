// One invocation, run as the Node.js worker runs it: the programming model's invocation model,
// preInvocation and postInvocation hooks around the handler, and the RPC response.
import type { CoreApiRegistry, CoreInvocationContext, FunctionCallback } from './core-api.js';
import type { RpcInvocationRequest, RpcInvocationResponse } from './protocol.js';

/**
 * Runs one invocation the way the Node.js worker does: the programming model's invocation
 * model builds the arguments, preInvocation hooks may replace inputs or the callback, the
 * model invokes the handler, postInvocation hooks may replace the result or error, and the
 * model turns the result into the RPC response.
 */
export async function invokeFunction(
  registry: CoreApiRegistry,
  functionName: string,
  request: RpcInvocationRequest,
): Promise<RpcInvocationResponse> {
  const invocationId = request.invocationId ?? '';
  try {
    const fn = registry.functions.get(functionName.toLowerCase());
    if (!fn) throw new Error(`Function "${functionName}" is not registered in this app.`);
    const model = registry.programmingModel;
    if (!model) throw new Error('No programming model was set: the app must load "@azure/functions" v4.');

    let invocationContext: unknown;
    const coreCtx: CoreInvocationContext = {
      invocationId,
      request,
      metadata: fn.metadata,
      state: undefined,
      log: (level, category, message) =>
        registry.log(level, category, message, { invocationId, functionName: fn.metadata.name, context: invocationContext }),
    };
    const invocationModel = await model.getInvocationModel(coreCtx);
    const { context, inputs } = await invocationModel.getArguments();
    invocationContext = context;

    const hookData: Record<string, unknown> = {};
    const pre = {
      hookData,
      appHookData: registry.appHookData,
      invocationContext: context,
      inputs,
      functionCallback: fn.callback as FunctionCallback,
    };
    coreCtx.state = 'preInvocationHooks';
    try {
      for (const hook of [...registry.hooks.preInvocation]) await hook(pre);
    } finally {
      coreCtx.state = undefined;
    }

    let result: unknown;
    let error: unknown;
    coreCtx.state = 'invocation';
    try {
      result = await invocationModel.invokeFunction(context, pre.inputs, pre.functionCallback);
    } catch (err) {
      error = err;
    } finally {
      coreCtx.state = undefined;
    }

    const post = { hookData, appHookData: registry.appHookData, invocationContext: context, inputs: pre.inputs, result, error };
    coreCtx.state = 'postInvocationHooks';
    try {
      for (const hook of [...registry.hooks.postInvocation]) await hook(post);
    } finally {
      coreCtx.state = undefined;
    }
    if (post.error !== undefined && post.error !== null) throw post.error;

    const response = await invocationModel.getResponse(context, post.result);
    return { ...response, invocationId, result: { status: 'success' } };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(typeof err === 'string' ? err : JSON.stringify(err));
    return {
      invocationId,
      result: { status: 'failure', exception: { message: e.message, stackTrace: e.stack ?? null, source: e.name } },
    };
  }
}
