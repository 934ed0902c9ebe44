// bucket_A's reviews: the lazily loaded file, overridden by a variation.
import { label } from './button.js';

export function render(element) {
    element.textContent = 'Shoppers who clicked "' + label + '" loved it';
    element.setAttribute('data-reviews', 'bucket_A');
}
