// The shop's server module (`bundles.main.ssr` in .mendelrc): the server renders the offer
// box with it, in a sandbox, from the visitor's own tree; the browser's copy of the same tree
// (main.js) then hydrates it. No npm package: the component writes its own HTML.
var offer = require('./components/offer.js');

exports.render = function (props) {
    return offer.html(props);
};
