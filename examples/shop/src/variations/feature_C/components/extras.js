var recommended = require('./recommended');

module.exports = {
    render: function (element) {
        recommended.render(element);
    }
};
