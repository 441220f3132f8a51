// Imported first by the hook tests: a DOM (happy-dom) on the globals before React Testing Library
// loads, since its `screen` binds to the document that exists at import time.
import { GlobalRegistrator } from '@happy-dom/global-registrator';

GlobalRegistrator.register();
