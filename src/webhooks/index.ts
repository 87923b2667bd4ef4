export { WebhookDeliveryLog, type Delivery, type DeliveryStatus } from './delivery-log.js';
export { createDeliverWebhookTask, type DeliverWebhookTask, type DeliveryOutcome, type WebhookObserver } from './deliver-webhook.task.js';
export { WebhookOutbox } from './webhook-outbox.js';
export { WEBHOOK_EVENT_TYPES, webhookChange, type WebhookBody, type WebhookEventType } from './webhook-event.js';
export { sendWebhook, type SendResult, type WebhookTarget } from './webhook-sender.js';
export { signatureHeader, verifySignature } from './webhook-signature.js';
