// Types for the one internal module of @azure/service-bus that the agent imports (servicebus.ts,
// warmReceivePath): the class the SDK builds every received message with. The package has no
// `exports` map, so the path resolves; the bundle inlines the same module instance as the SDK's.
declare module '@azure/service-bus/dist-esm/src/serviceBusMessage.js' {
  import type { ServiceBusReceivedMessage } from '@azure/service-bus';
  export class ServiceBusMessageImpl {
    constructor(
      msg: unknown,
      delivery: { tag: Buffer },
      shouldReorderLockToken: boolean,
      receiveMode: 'peekLock' | 'receiveAndDelete',
      skipParsingBodyAsJson: boolean,
      skipConvertingDate: boolean,
    );
  }
  export interface ServiceBusMessageImpl extends ServiceBusReceivedMessage {}
}
