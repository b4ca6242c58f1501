// Loaded at run time inside the dynamic provider process (see serialized-provider.ts); never serialized.
export { configure } from './settings';
export { imageRelease as ImageRelease } from './image-release';
export { menderDeployment as MenderDeployment } from './mender-deployment';
export { deviceConfiguration as DeviceConfiguration } from './device-configuration';
export { deviceConfigurationSet as DeviceConfigurationSet } from './device-configuration-set';
