// Reserved for services the whole run shares; each suite starts what it needs itself.
export default async function setup(): Promise<void> {}
