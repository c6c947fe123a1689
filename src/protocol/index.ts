// Re-exports the control-channel protocol shared by the host client and the guest harness.
export * from './version.js';
export * from './routes.js';
export * from './messages.js';
export * from './frames.js';
export * from './exit-code.js';
export * from './surface.js';
