const items = [];

export function add(productId) {
    items.push(productId);
}

export function count() {
    return items.length;
}
