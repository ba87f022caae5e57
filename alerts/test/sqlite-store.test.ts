import { openAlertStore } from '../sqlite-store.ts';
import { alertStoreContract } from './store-contract.ts';

alertStoreContract('SQLite (embedded)', () => openAlertStore(':memory:'));
