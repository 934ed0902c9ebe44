var items = [];

module.exports = {
    add: function (productId) {
        items.push(productId);
    },
    count: function () {
        return items.length;
    }
};
